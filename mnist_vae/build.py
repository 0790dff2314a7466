"""Turn configuration records into Keras objects, by registry name."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mnist_vae.config import ModelConfig, TrainConfig
from mnist_vae.errors import ConfigError
from mnist_vae.registry import (
    architectures,
    decoders,
    encoders,
    likelihoods,
    optimizers,
    strategies,
)

if TYPE_CHECKING:
    import keras


def model_config(
    architecture: str | None = "net1",
    *,
    encoder: str | None = None,
    decoder: str | None = None,
    **options,
) -> ModelConfig:
    """A ``ModelConfig`` from an architecture name, optionally overriding either network.

    ``model_config("net1", latent_dim=16)`` or ``model_config(None, encoder="net4",
    decoder="net2")``; every name is checked against its registry.
    """
    if architecture is not None:
        pair = architectures.get(architecture)()
        encoder = encoder or pair.encoder
        decoder = decoder or pair.decoder
    if encoder is None or decoder is None:
        raise ConfigError("give an architecture, or both an encoder and a decoder")
    config = ModelConfig(
        encoder=encoders.check(encoder),
        decoder=decoders.check(decoder),
        architecture=architecture,
        **options,
    )
    likelihoods.check(config.likelihood)
    strategy_options(config)
    return config


def strategy_options(config: ModelConfig):
    """The strategy's options dataclass filled from ``config.options`` (None if it has none).

    Strategies declare their options with ``mnist_vae.zoo.strategies.with_options``;
    an option meant for another strategy fails here, in one line, before any work.
    """
    builder = strategies.get(config.strategy)
    options_type = getattr(builder, "options", None)
    given = sorted(config.options)
    if options_type is None:
        if given:
            raise ConfigError(
                f"strategy {config.strategy!r} takes no options, got {', '.join(given)}"
            )
        return None
    known = [f.name for f in dataclasses.fields(options_type)]
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ConfigError(
            f"option {', '.join(unknown)} does not apply to strategy {config.strategy!r} "
            f"(its options: {', '.join(known)})"
        )
    return options_type(**config.options)


def build_model(config: ModelConfig, seed: int = 0) -> keras.Model:
    """Build the configured strategy's model; it builds the networks it needs."""
    from mnist_vae._lazy import prepare_backend

    prepare_backend()
    return strategies.get(config.strategy)(config, seed)


def build_networks(config: ModelConfig, condition_dim: int = 0) -> tuple[keras.Model, keras.Model]:
    """Encoder and decoder by registry name, checked for shape.

    ``condition_dim`` extra values are concatenated at each network's input: as
    image channels for the encoder, after z for the decoder.
    """
    from mnist_vae.config import IMAGE_SHAPE
    from mnist_vae.model import check_networks

    image_shape = (*IMAGE_SHAPE[:2], IMAGE_SHAPE[2] + condition_dim)
    encoder = encoders.get(config.encoder)(config.latent_dim, input_shape=image_shape)
    decoder = decoders.get(config.decoder)(config.latent_dim + condition_dim)
    check_networks(encoder, decoder, config.latent_dim, condition_dim)
    return encoder, decoder


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer, with its learning-rate schedule."""
    return optimizers.get(config.optimizer)(config.learning_rate, config.lr_decay, steps_per_epoch)
