"""Seeded standard-normal noise from ops every TFLite runtime has.

TFLite has no builtin kernel for TensorFlow's stateless random ops, so exported
``sample`` signatures draw their own noise: two small integer hash streams (exact
in int32: every product stays below 2^31) combined Wichmann-Hill style into
uniforms, then Box-Muller. The same seed gives the same noise in TensorFlow and in
TFLite; it is a different sequence from ``keras.random`` or numpy.
"""

from __future__ import annotations

PRIMES = (46337, 46327)  # the largest primes whose squares fit in a signed int32
ROUNDS = 4


def _stream(tf, index, seed, prime: int, salt: int):
    """A pseudo-random integer in [0, prime) for each index, from quadratic mixing mod prime."""
    low = tf.math.floormod(index, prime)
    high = tf.math.floordiv(index, prime)
    x = tf.math.floormod(low * 7919 + salt, prime)
    x = tf.math.floormod(x + tf.math.floormod(high, prime) * (104729 % prime), prime)
    x = tf.math.floormod(x + tf.math.floormod(seed, prime) * 31, prime)
    for round_number in range(ROUNDS):
        x = tf.math.floormod(x * x + (salt + 2 * round_number + 1), prime)
        x = tf.math.floormod(x * ((salt % 97) + 2) + low % 13 + round_number, prime)
    return x


def uniform(shape, seed):
    """Uniforms in (0, 1) of ``shape`` (a 1-D int32 tensor), determined by int32 ``seed``."""
    import tensorflow as tf

    count = tf.reduce_prod(shape)
    index = tf.range(count, dtype=tf.int32)
    seed = tf.cast(seed, tf.int32)
    total = tf.zeros([count], tf.float32)
    for number, prime in enumerate(PRIMES):
        stream = _stream(tf, index, seed, prime, salt=11 + 7 * number)
        total = total + (tf.cast(stream, tf.float32) + 0.5) / float(prime)
    fraction = total - tf.floor(total)
    fraction = tf.clip_by_value(fraction, 1e-7, 1.0 - 1e-7)
    return tf.reshape(fraction, shape)


def standard_normal(shape, seed):
    """N(0, 1) draws of ``shape`` by Box-Muller on ``uniform`` pairs."""
    import tensorflow as tf

    shape = tf.cast(shape, tf.int32)
    count = tf.reduce_prod(shape)
    u = uniform(tf.stack([2, count]), seed)
    radius = tf.sqrt(-2.0 * tf.math.log(u[0]))
    return tf.reshape(radius * tf.cos(6.283185307179586 * u[1]), shape)
