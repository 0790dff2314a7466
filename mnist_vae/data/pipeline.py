"""From uint8 arrays to model inputs: float images and tf.data pipelines."""

from __future__ import annotations

import numpy as np

from mnist_vae.config import IMAGE_SHAPE

# The seed of the one binary draw of a test set under dynamic binarization.
DYNAMIC_TEST_SEED = 0


def binarized(images: np.ndarray) -> np.ndarray:
    """MNIST thresholded at 0.5 (the TensorFlow CVAE tutorial's setting), still uint8 0/255."""
    return np.where(images >= 128, 255, 0).astype(np.uint8)


def sampled_binary(images: np.ndarray, seed: int) -> np.ndarray:
    """Each pixel 255 with probability grey/255, else 0 (one draw, seeded), uint8."""
    uniform = np.random.default_rng(seed).random(images.shape)
    return np.where(uniform * 255.0 < images, 255, 0).astype(np.uint8)


def binarize_test_set(images: np.ndarray, mode: str) -> np.ndarray:
    """The test images under a binarization mode: as they are, thresholded, or one fixed draw."""
    if mode == "threshold":
        return binarized(images)
    if mode == "dynamic":
        return sampled_binary(images, DYNAMIC_TEST_SEED)
    return images


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
    resample_binary: bool = False,
):
    """An in-memory tf.data pipeline of (float images, int32 labels).

    With ``shuffle`` it draws a new order every epoch by shuffling indices and
    gathering whole batches of the uint8 images, converting only each batch to
    float: one pipeline element per batch instead of one per image. With
    ``resample_binary`` (dynamic binarization; needs ``shuffle``) every batch of every
    epoch gets binary pixels drawn afresh from the grey levels, reproducibly per seed.
    """
    import tensorflow as tf

    if resample_binary and not shuffle:
        raise ValueError("resample_binary draws per training batch; it needs shuffle=True")
    if not shuffle:
        dataset = tf.data.Dataset.from_tensor_slices(
            (to_float_images(images), labels.astype(np.int32))
        )
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    pixels = tf.constant(images)
    classes = tf.constant(labels.astype(np.int32))

    def gather(indices, draw=None):
        batch = tf.cast(tf.gather(pixels, indices), tf.float32) / 255.0
        if draw is not None:
            noise = tf.random.stateless_uniform(tf.shape(batch), seed=tf.stack([draw, seed]))
            batch = tf.cast(noise < batch, tf.float32)
        return batch[..., None], tf.gather(classes, indices)

    batches = (
        tf.data.Dataset.range(len(images))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    if resample_binary:
        # One random integer per batch, new every epoch, fixed by the seed.
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        batches = tf.data.Dataset.zip((batches, draws))
    return batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
