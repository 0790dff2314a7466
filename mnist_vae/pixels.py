"""Pixels into model inputs inside the graph: the training step decodes its own batch.

The training pipeline sends each batch as it is stored, uint8 (a quarter of float32's
bytes), with the key of its binary draw under dynamic binarization; the step turns it
into float images here. The per-batch work then runs in the compiled step on the
cores the step already holds, instead of in tf.data's own threads, which on a
two-core machine steal time from the matrix multiplies (``benchmarks/train_throughput.py``).
The draw is ``tf.random.stateless_uniform`` of the batch's shape under its key, so a
batch decoded here equals the one the float pipeline makes, bit for bit.
"""

from __future__ import annotations


def float_images(pixels, binary_key=None):
    """uint8 pixels [N, 28, 28] -> float32 images [N, 28, 28, 1] in [0, 1].

    With ``binary_key`` (a stateless seed, shape [2]) each pixel is 1 with probability
    grey / 255, else 0: dynamic binarization's draw for this batch.
    """
    import tensorflow as tf

    images = tf.cast(pixels, tf.float32) / 255.0
    if binary_key is not None:
        draw = tf.random.stateless_uniform(tf.shape(images), seed=binary_key)
        images = tf.cast(draw < images, tf.float32)
    return images[..., None]
