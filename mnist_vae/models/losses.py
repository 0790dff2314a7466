"""The ELBO's terms in ``keras.ops``, per image, in nats.

Decoders output logits; the mean image is ``sigmoid(logits)`` for every likelihood.
A likelihood (registered in the zoo) returns the per-image negative log-likelihood
``-log p(x | z)`` summed over pixels, so that ``reconstruction + kl`` is the
negative ELBO of one image. The math every likelihood and strategy shares is here.
"""

from __future__ import annotations

import math

from mnist_vae.backend import keras
from mnist_vae.registry import likelihoods

LOG_TWO_PI = math.log(2.0 * math.pi)


def sum_over_pixels(values):
    """Per-image sums of a (batch, ...) tensor."""
    return keras.ops.sum(keras.ops.reshape(values, (keras.ops.shape(values)[0], -1)), axis=1)


def binary_cross_entropy_with_logits(logits, targets):
    """Elementwise BCE of ``logits`` against ``targets`` in [0, 1], without overflow.

    max(l, 0) - l*x + log(1 + exp(-|l|)) equals -x log s(l) - (1 - x) log(1 - s(l)).
    """
    return (
        keras.ops.maximum(logits, 0.0)
        - logits * targets
        + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(logits)))
    )


def kl_per_dimension(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, 1)) of each latent dimension, same shape."""
    return -0.5 * (1.0 + log_variance - keras.ops.square(mean) - keras.ops.exp(log_variance))


def kl_to_standard_normal(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per row, summed over latent dims."""
    return keras.ops.sum(kl_per_dimension(mean, log_variance), axis=-1)


def standard_normal_log_density(z):
    """log N(z; 0, I) per row, summed over the last axis."""
    return -0.5 * keras.ops.sum(keras.ops.square(z) + LOG_TWO_PI, axis=-1)


def reconstruction_nll(likelihood: str, x, logits, *, variance: float = 1.0):
    """Per-image ``-log p(x | z)`` under the likelihood registered as ``likelihood``."""
    return likelihoods.get(likelihood)(x, logits, variance=variance)


def half_squared_distance(a, b):
    """0.5 * ||a - b||^2 per example, over all feature dimensions."""
    difference = keras.ops.reshape(a - b, (keras.ops.shape(a)[0], -1))
    return 0.5 * keras.ops.sum(keras.ops.square(difference), axis=1)
