"""From uint8 arrays to model inputs: float images and tf.data pipelines."""

from __future__ import annotations

import numpy as np

from mnist_vae.config import IMAGE_SHAPE


def binarized(images: np.ndarray) -> np.ndarray:
    """MNIST thresholded at 0.5 (the TensorFlow CVAE tutorial's setting), still uint8 0/255."""
    return np.where(images >= 128, 255, 0).astype(np.uint8)


def to_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or float images in [0, 1] -> float32 (N, 28, 28, 1) in [0, 1].

    The one place pixels become model inputs: every caller converts through here.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return (images.astype(np.float32) / 255.0).reshape(-1, *IMAGE_SHAPE)
    return images.reshape(-1, *IMAGE_SHAPE).astype(np.float32)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
):
    """An in-memory tf.data pipeline of (float images, int32 labels).

    With ``shuffle`` it draws a new order every epoch by shuffling indices and
    gathering whole batches of the uint8 images, converting only each batch to
    float: one pipeline element per batch instead of one per image.
    """
    import tensorflow as tf

    if not shuffle:
        dataset = tf.data.Dataset.from_tensor_slices(
            (to_float_images(images), labels.astype(np.int32))
        )
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    pixels = tf.constant(images)
    classes = tf.constant(labels.astype(np.int32))

    def gather(indices):
        batch = tf.cast(tf.gather(pixels, indices), tf.float32) / 255.0
        return batch[..., None], tf.gather(classes, indices)

    return (
        tf.data.Dataset.range(len(images))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
