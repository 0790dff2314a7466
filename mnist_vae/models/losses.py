"""The ELBO's terms in ``keras.ops``, per image, in nats.

Decoders output logits; the mean image is ``sigmoid(logits)`` for every likelihood.
A likelihood (registered in the zoo) returns the per-image negative log-likelihood
``-log p(x | z)`` summed over pixels, so that ``reconstruction + kl`` is the
negative ELBO of one image. The math every likelihood and strategy shares is here.
"""

from __future__ import annotations

import functools
import math

from mnist_vae.backend import keras
from mnist_vae.registry import likelihoods

LOG_TWO_PI = math.log(2.0 * math.pi)


def sum_over_pixels(values):
    """Per-image sums of a (batch, ...) tensor."""
    return keras.ops.sum(keras.ops.reshape(values, (keras.ops.shape(values)[0], -1)), axis=1)


def binary_cross_entropy_with_logits(logits, targets):
    """Elementwise BCE of ``logits`` against ``targets`` in [0, 1], without overflow.

    softplus(l) - l*x equals -x log s(l) - (1 - x) log(1 - s(l)); softplus is one
    overflow-safe kernel, where max(l, 0) + log1p(exp(-|l|)) took five (the loss's
    elementwise work runs on every pixel of every training and scoring pass).
    """
    return keras.ops.softplus(logits) - logits * targets


# Factors 1 + exp(-|l|), each in (1, 2], multiplied before one log: 2^16 at most, far
# inside float32, and 16 logs fewer per group than log1p on every pixel.
LOG1P_GROUP = 16


def bernoulli_negative_log_likelihood(targets, logits):
    """Per-image sum over pixels of BCE(logits, targets): -log p(x | z) of Bernoulli pixels.

    The same number as ``sum_over_pixels(binary_cross_entropy_with_logits(...))``
    (to float32 rounding: tested), computed as sum(max(l, 0) - l*x) + sum over groups
    of log prod(1 + exp(-|l|)): one exp per pixel and one log per ``LOG1P_GROUP``
    pixels, fused by XLA, where softplus costs an exp and a log per pixel.
    Importance-sampled scoring evaluates it on every pixel of thousands of decoder
    samples per image, where the transcendental functions cost as much as the
    decoder's matrix multiplies. ``targets`` may hold fewer rows than ``logits``:
    logits row r is then scored against targets row r mod len(targets), as for
    sample-major draws of those images (one image against all its samples), and
    the targets are never copied out to the logits' size. The gradient is the exact
    sigmoid(l) - x (and -l for the targets, summed over their repeats).
    """
    import tensorflow as tf

    @tf.custom_gradient
    def negative_log_likelihood(targets, logits):
        count = tf.shape(logits)[0]
        value = _grouped_bernoulli()(
            tf.reshape(logits, (count, -1)), tf.reshape(targets, (tf.shape(targets)[0], -1))
        )

        def gradient(upstream):
            per_pixel = tf.concat([[count], tf.ones_like(tf.shape(logits)[1:])], axis=0)
            upstream = tf.reshape(upstream, per_pixel)
            repeats = count // tf.shape(targets)[0]
            targets_gradient = tf.reduce_sum(
                tf.reshape(-upstream * logits, tf.concat([[repeats], tf.shape(targets)], 0)),
                axis=0,
            )
            return targets_gradient, upstream * (tf.sigmoid(logits) - repeat_rows(targets, count))

        return value, gradient

    return negative_log_likelihood(tf.convert_to_tensor(targets, logits.dtype), logits)


def repeat_rows(values, rows):
    """``values`` tiled along its first axis to ``rows`` rows (a multiple of its own)."""
    import tensorflow as tf

    multiples = tf.concat([[rows // tf.shape(values)[0]], tf.ones_like(tf.shape(values)[1:])], 0)
    return tf.tile(values, multiples)


def _grouped_bernoulli_math(logits, targets):
    """``bernoulli_negative_log_likelihood``'s value on [N, pixels] logits against
    [T, pixels] targets, T dividing N (logits row r against targets row r mod T)."""
    import tensorflow as tf

    count, pixels = tf.shape(logits)[0], tf.shape(logits)[1]
    repeated = tf.shape(targets)[0]
    logits = tf.reshape(logits, (-1, repeated, pixels))  # targets broadcast, never copied
    linear = tf.reduce_sum(tf.nn.relu(logits) - logits * targets[None], axis=2)
    factors = 1.0 + tf.exp(-tf.abs(logits))
    padding = -pixels % LOG1P_GROUP  # factors of 1 complete the last group
    factors = tf.pad(factors, [[0, 0], [0, 0], [0, padding]], constant_values=1.0)
    groups = (pixels + padding) // LOG1P_GROUP
    grouped = tf.reduce_prod(tf.reshape(factors, (-1, repeated, groups, LOG1P_GROUP)), axis=3)
    return tf.reshape(linear + tf.reduce_sum(tf.math.log(grouped), axis=2), (count,))


@functools.cache
def _grouped_bernoulli():
    """``_grouped_bernoulli_math`` compiled by XLA: one fused loop over the pixels, about
    1.8x TensorFlow's kernels one by one (exp and log are most of it)."""
    import tensorflow as tf

    return tf.function(_grouped_bernoulli_math, jit_compile=True, reduce_retracing=True)


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
    """Per-image ``-log p(x | z)`` under the likelihood registered as ``likelihood``.

    ``x`` may hold fewer rows than ``logits`` (sample-major draws for those images:
    logits row r belongs to image r mod len(x)). A likelihood that scores such rows
    itself says so with a true ``repeats_rows`` attribute; any other gets ``x`` tiled.
    """
    score = likelihoods.get(likelihood)
    if not getattr(score, "repeats_rows", False):
        x = repeat_rows(x, keras.ops.shape(logits)[0])
    return score(x, logits, variance=variance)


def half_squared_distance(a, b):
    """0.5 * ||a - b||^2 per example, over all feature dimensions."""
    difference = keras.ops.reshape(a - b, (keras.ops.shape(a)[0], -1))
    return 0.5 * keras.ops.sum(keras.ops.square(difference), axis=1)
