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
    decoder's matrix multiplies. ``targets`` may be broadcast against ``logits`` (one
    image against its samples). The gradient is the exact sigmoid(l) - x (and -l for
    the targets).
    """
    import tensorflow as tf

    @tf.custom_gradient
    def negative_log_likelihood(targets, logits):
        count = tf.shape(logits)[0]
        full_targets = tf.broadcast_to(targets, tf.shape(logits))
        value = _grouped_bernoulli()(
            tf.reshape(logits, (count, -1)), tf.reshape(full_targets, (count, -1))
        )

        def gradient(upstream):
            per_pixel = tf.concat([[count], tf.ones_like(tf.shape(logits)[1:])], axis=0)
            upstream = tf.reshape(upstream, per_pixel)
            targets_gradient = _reduced_to(-upstream * logits, targets)
            return targets_gradient, upstream * (tf.sigmoid(logits) - targets)

        return value, gradient

    return negative_log_likelihood(tf.convert_to_tensor(targets, logits.dtype), logits)


def _grouped_bernoulli_math(logits, targets):
    """``bernoulli_negative_log_likelihood``'s value on [N, pixels] tensors."""
    import tensorflow as tf

    count = tf.shape(logits)[0]
    linear = tf.reduce_sum(tf.nn.relu(logits) - logits * targets, axis=1)
    factors = 1.0 + tf.exp(-tf.abs(logits))
    padding = -tf.shape(factors)[1] % LOG1P_GROUP  # factors of 1 complete the last group
    factors = tf.pad(factors, [[0, 0], [0, padding]], constant_values=1.0)
    grouped = tf.reduce_prod(tf.reshape(factors, (count, -1, LOG1P_GROUP)), axis=2)
    return linear + tf.reduce_sum(tf.math.log(grouped), axis=1)


@functools.cache
def _grouped_bernoulli():
    """``_grouped_bernoulli_math`` compiled by XLA: one fused loop over the pixels, about
    1.8x TensorFlow's kernels one by one (exp and log are most of it)."""
    import tensorflow as tf

    return tf.function(_grouped_bernoulli_math, jit_compile=True, reduce_retracing=True)


def _reduced_to(gradient, like):
    """``gradient`` summed over the axes ``like`` was broadcast along."""
    import tensorflow as tf

    axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(gradient), s1=tf.shape(like))
    return tf.reshape(tf.reduce_sum(gradient, axis=axes), tf.shape(like))


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
