"""``vae``: the plain VAE (Kingma & Welling 2014), minimising reconstruction + beta * KL.

Its model class is the package's base ``mnist_vae.models.VAE``; every other
strategy builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.models import VAE, TrainingContext, build_networks, vae_arguments, with_options
from mnist_vae.registry import strategies


@dataclass(frozen=True)
class VaeOptions(StrategyOptions):
    """The plain VAE has no options beyond the model config (latent size, beta, likelihood)."""


@keras.saving.register_keras_serializable(package="mnist_vae")
class PlainVAE(VAE):
    """``mnist_vae.models.VAE`` with its (empty) options: what ``--strategy vae`` trains."""

    options_class = VaeOptions


@strategies.register
@with_options(VaeOptions)
def vae(
    config: ModelConfig, options: VaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Plain VAE: minimise reconstruction + beta * KL (the negative ELBO when beta = 1)."""
    encoder, decoder = build_networks(config)
    return PlainVAE(encoder, decoder, options=options, **vae_arguments(config, seed))
