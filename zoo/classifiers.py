"""Digit classifiers for task-driven strategies.

A builder returns a ``keras.Model`` mapping 28x28x1 images to a list: the output of
each hidden layer (compared between real and reconstructed images in the
``features`` task mode), then 10 class logits.
"""

from __future__ import annotations

from mnist_vae._lazy import keras
from mnist_vae.config import IMAGE_SHAPE, NUM_CLASSES
from mnist_vae.registry import classifiers


@classifiers.register
def lenet() -> keras.Model:
    """LeNet-style CNN: conv 5/32 + pool, conv 5/64 + pool, dense 128, dense 10."""
    layers = keras.layers
    images = keras.Input(IMAGE_SHAPE)
    h1 = layers.MaxPooling2D(2)(layers.Conv2D(32, 5, padding="same", activation="relu")(images))
    h2 = layers.MaxPooling2D(2)(layers.Conv2D(64, 5, padding="same", activation="relu")(h1))
    h3 = layers.Dense(128, activation="relu")(layers.Flatten()(h2))
    logits = layers.Dense(NUM_CLASSES)(h3)
    return keras.Model(images, [h1, h2, h3, logits], name="lenet_classifier")
