"""Building blocks shared by the zoo's own (non-report) networks."""

from __future__ import annotations

from mnist_vae.backend import keras


def residual_block(x, channels: int):
    """Pre-activation residual block: x + conv3x3(swish(conv3x3(swish(x))))."""
    layers = keras.layers
    h = layers.Activation("swish")(x)
    h = layers.Conv2D(channels, 3, padding="same")(h)
    h = layers.Activation("swish")(h)
    h = layers.Conv2D(channels, 3, padding="same")(h)
    return layers.Add()([x, h])
