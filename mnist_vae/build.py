"""Turn configuration records into Keras objects, by registry name."""

from __future__ import annotations

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
    strategies.check(config.strategy)
    likelihoods.check(config.likelihood)
    return config


def build_model(config: ModelConfig, seed: int = 0) -> keras.Model:
    """Build the networks and wrap them in the configured strategy."""
    from mnist_vae._lazy import prepare_backend

    prepare_backend()
    from mnist_vae.model import check_networks

    encoder = encoders.get(config.encoder)(config.latent_dim)
    decoder = decoders.get(config.decoder)(config.latent_dim)
    check_networks(encoder, decoder, config.latent_dim)
    return strategies.get(config.strategy)(encoder, decoder, config, seed)


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer, with its learning-rate schedule."""
    return optimizers.get(config.optimizer)(config.learning_rate, config.lr_decay, steps_per_epoch)
