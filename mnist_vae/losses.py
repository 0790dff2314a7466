"""The ELBO's terms in ``keras.ops``, per image, in nats.

Decoders output logits; the mean image is ``sigmoid(logits)`` for every likelihood.
Each registered likelihood returns the per-image negative log-likelihood
``-log p(x | z)`` summed over pixels, so that ``reconstruction + kl`` is the
negative ELBO of one image.
"""

from __future__ import annotations

import math

from mnist_vae._lazy import keras
from mnist_vae.registry import likelihoods


def _sum_over_pixels(values):
    return keras.ops.sum(keras.ops.reshape(values, (keras.ops.shape(values)[0], -1)), axis=1)


@likelihoods.register
def bernoulli(x, logits, *, variance: float = 1.0):
    """Bernoulli pixels: binary cross-entropy on logits (default; variance is unused)."""
    del variance
    # max(l, 0) - l*x + log(1 + exp(-|l|)): the overflow-free form of BCE with logits.
    per_pixel = (
        keras.ops.maximum(logits, 0.0)
        - logits * x
        + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(logits)))
    )
    return _sum_over_pixels(per_pixel)


@likelihoods.register
def gaussian(x, logits, *, variance: float = 1.0):
    """Gaussian pixels N(sigmoid(logits), variance): the report's squared-error term."""
    mean = keras.ops.sigmoid(logits)
    squared = keras.ops.square(x - mean)
    constant = 0.5 * math.log(2.0 * math.pi * variance)
    return _sum_over_pixels(0.5 * squared / variance + constant)


def kl_to_standard_normal(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per row, summed over latent dims."""
    return -0.5 * keras.ops.sum(
        1.0 + log_variance - keras.ops.square(mean) - keras.ops.exp(log_variance), axis=-1
    )


def reconstruction_nll(likelihood: str, x, logits, *, variance: float = 1.0):
    """Per-image ``-log p(x | z)`` under the likelihood registered as ``likelihood``."""
    return likelihoods.get(likelihood)(x, logits, variance=variance)
