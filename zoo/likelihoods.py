"""Pixel likelihoods p(x | z), selected with ``--likelihood``.

Each takes images in [0, 1] and decoder logits and returns the per-image negative
log-likelihood in nats, summed over pixels.
"""

from __future__ import annotations

import math

from mnist_vae.backend import keras
from mnist_vae.models.losses import bernoulli_negative_log_likelihood, sum_over_pixels
from mnist_vae.registry import likelihoods


@likelihoods.register
def bernoulli(x, logits, *, variance: float | None = None):
    """Bernoulli pixels: binary cross-entropy on logits (default; variance is unused)."""
    del variance
    return bernoulli_negative_log_likelihood(x, logits)


@likelihoods.register
def gaussian(x, logits, *, variance: float | None = None):
    """Gaussian pixels N(sigmoid(logits), variance); by default the sigma-VAE's optimal one.

    A fixed ``variance`` is the report's squared-error term. ``None`` (the default) uses
    the variance that maximises the likelihood for the batch, its mean squared error
    (Rybkin, Daniilidis & Levine 2021, "Simple and effective VAE training with
    calibrated decoders"), floored at MIN_VARIANCE: the reconstruction term then stays
    in balance with the KL whatever the images' scale.
    """
    squared = keras.ops.square(x - keras.ops.sigmoid(logits))
    if variance is None:
        variance = keras.ops.maximum(keras.ops.mean(squared), MIN_VARIANCE)
    return sum_over_pixels(0.5 * squared / variance + 0.5 * keras.ops.log(2.0 * math.pi * variance))


MIN_VARIANCE = 1e-6  # sigma >= 0.001, as the sigma-VAE bounds log sigma
