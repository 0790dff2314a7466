"""Helpers every ``train_step`` shares: batch unpacking and tf.distribute arithmetic."""

from __future__ import annotations

import keras
import tensorflow as tf

from mnist_vae.pixels import float_images


def unpack(data):
    """(images, labels) of a batch; plain arrays are images alone.

    The training pipeline sends uint8 pixels, under dynamic binarization with the
    batch's draw key as a third element (``make_dataset(raw=True)``): they become
    float images here, inside the compiled step (``mnist_vae.pixels``).
    """
    if not isinstance(data, (tuple, list)):
        data = (data,)
    images, labels = data[0], (data[1] if len(data) > 1 else None)
    if images.dtype == tf.uint8:
        images = float_images(images, data[2] if len(data) > 2 else None)
    return images, labels


def replica_scaled(loss):
    """The share of ``loss`` one replica differentiates under ``tf.distribute``.

    Replicas each see a slice of the global batch and their gradients are summed,
    so a per-replica mean loss is divided by the number of replicas; on one device
    this is the loss itself.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def cross_replica_mean(value):
    """``value`` averaged over replicas (itself on one device): for decisions all must share."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def step_logs(metrics) -> dict:
    """The logs a step returns: each tracker's running mean.

    Keras 3 reduces multi-worker logs along axis 0, which scalars lack
    (tensorflow/tensorflow#72388); there a length-1 vector reduces to the mean.
    """
    results = {metric.name: metric.result() for metric in metrics}
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        results = {name: keras.ops.reshape(value, (1,)) for name, value in results.items()}
    return results


def clone_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """A fresh optimizer with the same class and settings (schedule included).

    Strategies with several players (encoder, decoder, critic) give each its own.
    """
    return keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
