"""Training strategies: builders of the Keras model that trains a VAE's networks.

A strategy builder takes ``(config, seed)`` and returns a compiled-ready
``keras.Model``; it builds the networks it needs through the registries. Its
options (``config.options``) are a frozen dataclass attached with ``with_options``,
so a wrong option fails in one line before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_vae._lazy import keras
from mnist_vae.config import NUM_CLASSES, ModelConfig
from mnist_vae.errors import ConfigError
from mnist_vae.registry import classifiers, discriminators, strategies


def with_options(options_type: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the dataclass that holds a strategy's options."""

    def attach(builder: Callable[..., Any]) -> Callable[..., Any]:
        builder.options = options_type
        return builder

    return attach


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _vae_arguments(config: ModelConfig, seed: int) -> dict[str, Any]:
    return {
        "latent_dim": config.latent_dim,
        "likelihood": config.likelihood,
        "beta": config.beta,
        "gaussian_variance": config.gaussian_variance,
        "seed": seed,
    }


@strategies.register
def vae(config: ModelConfig, seed: int) -> keras.Model:
    """Plain VAE: minimise reconstruction + beta * KL (the negative ELBO when beta = 1)."""
    from mnist_vae.build import build_networks
    from mnist_vae.model import VAE

    encoder, decoder = build_networks(config)
    return VAE(encoder, decoder, **_vae_arguments(config, seed))


@dataclass(frozen=True)
class VaeGanOptions:
    """VAE-GAN settings: the gating follows the authors' code; the rest was tuned on
    net1 at latent 2 (docs/strategies.md records what was tried)."""

    discriminator: str = "dcgan"
    feature_layer: int = 1
    feature_variance: float = 0.02
    gamma: float = 0.1
    balance: bool = True
    equilibrium: float = 0.68
    margin: float = 0.35
    pixel_warmup: int = 3

    def __post_init__(self) -> None:
        discriminators.check(self.discriminator)
        _check(
            isinstance(self.feature_layer, int) and self.feature_layer >= 1,
            f"--feature-layer must be a positive layer number, got {self.feature_layer!r}",
        )
        _check(_finite(self.gamma) and self.gamma >= 0, f"--gamma must be >= 0, got {self.gamma!r}")
        _check(
            _finite(self.feature_variance) and self.feature_variance > 0,
            f"--feature-variance must be > 0, got {self.feature_variance!r}",
        )
        _check(
            _finite(self.equilibrium) and _finite(self.margin) and self.margin >= 0,
            "--equilibrium and --margin must be finite and the margin >= 0",
        )
        _check(
            isinstance(self.pixel_warmup, int) and self.pixel_warmup >= 0,
            f"--pixel-warmup must be a whole number of epochs >= 0, got {self.pixel_warmup!r}",
        )


@strategies.register
@with_options(VaeGanOptions)
def vaegan(config: ModelConfig, seed: int) -> keras.Model:
    """VAE-GAN (Larsen et al. 2016): reconstruction measured in a discriminator's features."""
    from mnist_vae.build import build_networks, strategy_options
    from mnist_vae.zoo.models.vaegan import VAEGAN

    options = strategy_options(config)
    encoder, decoder = build_networks(config)
    discriminator = discriminators.get(options.discriminator)()
    hidden = len(discriminator.outputs) - 1
    _check(
        options.feature_layer <= hidden,
        f"--feature-layer {options.feature_layer} is past discriminator "
        f"{options.discriminator!r}'s {hidden} hidden layers",
    )
    return VAEGAN(
        encoder,
        decoder,
        discriminator,
        feature_layer=options.feature_layer,
        feature_variance=options.feature_variance,
        gamma=options.gamma,
        balance=options.balance,
        equilibrium=options.equilibrium,
        margin=options.margin,
        pixel_warmup=options.pixel_warmup,
        **_vae_arguments(config, seed),
    )


@dataclass(frozen=True)
class TaskOptions:
    """Settings of the classifier task-driven loss (the report's proposal)."""

    classifier: str = "lenet"
    classifier_weights: str | None = None
    task_mode: str = "ce"
    task_weight: float = 1.0
    recon_threshold: float = 0.02

    def __post_init__(self) -> None:
        classifiers.check(self.classifier)
        _check(
            self.task_mode in ("ce", "features"),
            f"--task-mode must be 'ce' or 'features', got {self.task_mode!r}",
        )
        _check(
            _finite(self.task_weight) and self.task_weight >= 0,
            f"--task-weight must be >= 0, got {self.task_weight!r}",
        )
        _check(
            _finite(self.recon_threshold) and self.recon_threshold >= 0,
            f"--recon-threshold must be >= 0, got {self.recon_threshold!r}",
        )


@strategies.register
@with_options(TaskOptions)
def classifier(config: ModelConfig, seed: int) -> keras.Model:
    """Task-driven VAE: a digit classifier's loss on reconstructions shapes the VAE."""
    from mnist_vae.build import build_networks, strategy_options
    from mnist_vae.zoo.models.task import TaskVAE, load_classifier_weights

    options = strategy_options(config)
    encoder, decoder = build_networks(config)
    network = classifiers.get(options.classifier)()
    if options.classifier_weights is not None:
        load_classifier_weights(network, options.classifier_weights)
    return TaskVAE(
        encoder,
        decoder,
        network,
        task_mode=options.task_mode,
        task_weight=options.task_weight,
        recon_threshold=options.recon_threshold,
        train_classifier=options.classifier_weights is None,
        **_vae_arguments(config, seed),
    )


@strategies.register
def cvae(config: ModelConfig, seed: int) -> keras.Model:
    """Conditional VAE: encoder and decoder also see the one-hot digit label."""
    from mnist_vae.build import build_networks
    from mnist_vae.zoo.models.cvae import CVAE

    encoder, decoder = build_networks(config, condition_dim=NUM_CLASSES)
    return CVAE(encoder, decoder, **_vae_arguments(config, seed))
