"""Training strategies: builders that wrap an encoder and decoder in a keras.Model."""

from __future__ import annotations

from mnist_vae._lazy import keras
from mnist_vae.config import ModelConfig
from mnist_vae.registry import strategies


@strategies.register
def vae(encoder: keras.Model, decoder: keras.Model, config: ModelConfig, seed: int) -> keras.Model:
    """Plain VAE: minimise reconstruction + beta * KL (the negative ELBO when beta = 1)."""
    from mnist_vae.model import VAE

    return VAE(
        encoder,
        decoder,
        latent_dim=config.latent_dim,
        likelihood=config.likelihood,
        beta=config.beta,
        gaussian_variance=config.gaussian_variance,
        seed=seed,
    )
