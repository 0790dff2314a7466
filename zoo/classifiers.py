"""Digit classifiers for task-driven strategies.

A builder returns a ``keras.Model`` mapping 28x28x1 images to a list: the output of
each hidden layer (compared between real and reconstructed images in the
``features`` task mode), then 10 class logits.
"""

from __future__ import annotations

from mnist_vae.backend import keras
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


@classifiers.register
def reference() -> keras.Model:
    """Reference CNN for sample quality: two conv blocks 32/64, dense 256 (features), 10."""
    layers = keras.layers
    images = keras.Input(IMAGE_SHAPE)
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(images)
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h1 = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h1)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h2 = layers.MaxPooling2D(2)(h)
    features = layers.Dense(256, activation="relu")(layers.Flatten()(h2))
    logits = layers.Dense(NUM_CLASSES)(layers.Dropout(0.3)(features))
    return keras.Model(images, [h1, h2, features, logits], name="reference_classifier")


@classifiers.register
def small() -> keras.Model:
    """Small fast CNN for the augmentation benchmark: conv 3/16 s2, conv 3/32 s2, dense 64, 10."""
    layers = keras.layers
    images = keras.Input(IMAGE_SHAPE)
    h1 = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(images)
    h2 = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(h1)
    h3 = layers.Dense(64, activation="relu")(layers.Flatten()(h2))
    logits = layers.Dense(NUM_CLASSES)(h3)
    return keras.Model(images, [h1, h2, h3, logits], name="small_classifier")
