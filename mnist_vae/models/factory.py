"""Turn configuration records into Keras objects, by registry name."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnist_vae.config import (
    IMAGE_SHAPE,
    ModelConfig,
    StrategyOptions,
    TrainConfig,
    check_option,
)
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

MNIST_TRAIN_IMAGES = 60_000


@dataclass(frozen=True)
class TrainingContext:
    """What a strategy builder may need to know about the training it is built for.

    Some estimators need the dataset size (e.g. minibatch-weighted sampling), some
    schedules the number of steps per epoch.
    """

    train_images: int = 20_000
    batch_size: int = 400

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_images / self.batch_size)

    @classmethod
    def for_training(cls, train: TrainConfig, available: int = MNIST_TRAIN_IMAGES):
        """The context of ``train`` on a training set of ``available`` images."""
        images = available if train.train_size is None else min(train.train_size, available)
        return cls(train_images=images, batch_size=train.batch_size)


def with_options(options_type: type[StrategyOptions]) -> Callable[[Callable[..., Any]], Any]:
    """Declare the dataclass that holds a strategy's options (on its builder)."""

    def attach(builder: Callable[..., Any]) -> Callable[..., Any]:
        builder.options = options_type
        return builder

    return attach


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
    if config.gaussian_variance is not None and config.likelihood != "gaussian":
        raise ConfigError(
            "--gaussian-variance takes effect only with --likelihood gaussian; "
            "add that, or drop --gaussian-variance"
        )
    chosen = strategy_options(config)
    if hasattr(chosen, "check_files"):  # files the options read (weights): only when new
        chosen.check_files()
    return config


def strategy_options(config: ModelConfig) -> StrategyOptions | None:
    """The strategy's options dataclass filled from ``config.options`` and checked.

    An option meant for another strategy, or of the wrong type, fails here in one
    line, before any work.
    """
    options_type = _options_type(config.strategy, config.options)
    if options_type is None or not dataclasses.fields(options_type):
        return None if options_type is None else options_type()
    return options_type(**config.options)


def check_option_values(strategy: str, values: dict[str, Any]) -> None:
    """Each of ``values`` on its own: an option of ``strategy``, of its type and range.

    For settings that come apart from the rest (a ``--config`` file's ``model.options``),
    so a bad one is reported as theirs; checks across options come with the whole set.
    """
    options_type = _options_type(strategy, values)
    for name, value in values.items():
        check_option(options_type, name, value)


def _options_type(strategy: str, given: dict[str, Any]) -> type[StrategyOptions] | None:
    """The options dataclass of ``strategy``, once the ``given`` option names are its own."""
    options_type = getattr(strategies.get(strategy), "options", None)
    names = sorted(given)
    if options_type is None or not dataclasses.fields(options_type):
        if names:
            raise ConfigError(f"strategy {strategy!r} takes no options, got {', '.join(names)}")
        return options_type
    known = [f.name for f in dataclasses.fields(options_type)]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"option {', '.join(unknown)} does not apply to strategy {strategy!r} "
            f"(its options: {', '.join(known)})"
        )
    return options_type


def build_model(
    config: ModelConfig, seed: int = 0, context: TrainingContext | None = None
) -> keras.Model:
    """Build the configured strategy's model; it builds the networks it needs."""
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    options = strategy_options(config)
    builder = strategies.get(config.strategy)
    return builder(config, options, context or TrainingContext(), seed)


def build_networks(config: ModelConfig, condition_dim: int = 0) -> tuple[keras.Model, keras.Model]:
    """Encoder and decoder by registry name, checked for shape.

    ``condition_dim`` extra values are concatenated at each network's input: as
    image channels for the encoder, after z for the decoder.
    """
    from mnist_vae.models.vae import check_networks

    image_shape = (*IMAGE_SHAPE[:2], IMAGE_SHAPE[2] + condition_dim)
    encoder = encoders.get(config.encoder)(config.latent_dim, input_shape=image_shape)
    decoder = decoders.get(config.decoder)(config.latent_dim + condition_dim)
    check_networks(encoder, decoder, config.latent_dim, condition_dim)
    return encoder, decoder


def vae_arguments(config: ModelConfig, seed: int) -> dict[str, Any]:
    """The base VAE's constructor arguments from a model config."""
    return {
        "latent_dim": config.latent_dim,
        "likelihood": config.likelihood,
        "beta": config.beta,
        "gaussian_variance": config.gaussian_variance,
        "seed": seed,
    }


def build_vae(
    model_class: type[keras.Model],
    config: ModelConfig,
    options: StrategyOptions,
    seed: int,
    networks: Callable[[], tuple[keras.Model, ...]] | None = None,
    condition_dim: int = 0,
    **arguments: Any,
) -> keras.Model:
    """A strategy's model: ``model_class`` on the configured encoder and decoder.

    ``networks`` builds the class's other networks (in its ``network_keys`` order)
    after those two, so the weights draw from the seed in the same order whatever
    the strategy; ``arguments`` go to the class beside ``options`` and the base VAE's.
    """
    encoder, decoder = build_networks(config, condition_dim)
    others = networks() if networks is not None else ()
    return model_class(
        encoder, decoder, *others, options=options, **arguments, **vae_arguments(config, seed)
    )


def require_unit_beta(config: ModelConfig, reason: str) -> None:
    """A ConfigError ``"<reason>; leave --beta at 1"`` unless --beta is 1."""
    if config.beta != 1.0:
        raise ConfigError(f"{reason}; leave --beta at 1")


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer, with its learning-rate schedule.

    An ``--lr-schedule`` is the whole decay: the optimizer gets it as its learning
    rate and a decay of 0 (so sgdm's default decay does not compound it).
    """
    from mnist_vae.models.schedules import learning_rate_schedule

    schedule = learning_rate_schedule(config, steps_per_epoch)
    if schedule is None:
        build = optimizers.get(config.optimizer)
        optimizer = build(config.learning_rate, config.lr_decay, steps_per_epoch)
    else:
        optimizer = optimizers.get(config.optimizer)(schedule, 0.0, steps_per_epoch)
    if config.adam_epsilon is not None:
        optimizer.epsilon = config.adam_epsilon
    if config.adam_beta1 is not None:
        optimizer.beta_1 = config.adam_beta1
    return optimizer
