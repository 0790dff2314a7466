"""Pixel likelihoods p(x | z), selected with ``--likelihood``.

Each takes images in [0, 1] and decoder logits and returns the per-image negative
log-likelihood in nats, summed over pixels.
"""

from __future__ import annotations

import math

from mnist_vae.backend import keras
from mnist_vae.models.losses import binary_cross_entropy_with_logits, sum_over_pixels
from mnist_vae.registry import likelihoods


@likelihoods.register
def bernoulli(x, logits, *, variance: float = 1.0):
    """Bernoulli pixels: binary cross-entropy on logits (default; variance is unused)."""
    del variance
    return sum_over_pixels(binary_cross_entropy_with_logits(logits, x))


@likelihoods.register
def gaussian(x, logits, *, variance: float = 1.0):
    """Gaussian pixels N(sigmoid(logits), variance): the report's squared-error term."""
    squared = keras.ops.square(x - keras.ops.sigmoid(logits))
    return sum_over_pixels(0.5 * squared / variance + 0.5 * math.log(2.0 * math.pi * variance))
