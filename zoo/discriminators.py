"""Discriminators for adversarial strategies.

A builder returns a ``keras.Model`` mapping 28x28x1 images to a list: the output of
each hidden block (the feature layers ``--feature-layer`` numbers from 1), then one
real-vs-fake logit per image.
"""

from __future__ import annotations

from mnist_vae._lazy import keras
from mnist_vae.config import IMAGE_SHAPE
from mnist_vae.registry import discriminators


@discriminators.register
def dcgan() -> keras.Model:
    """DCGAN-style critic: conv 4/32 s2, conv 4/64 s2, conv 3/128 s1 (ELU), dense 1."""
    # ELU rather than DCGAN's LeakyReLU: both pass gradient for negative inputs, and
    # TF's graph optimiser fails (noisily, though harmlessly) to fuse conv + LeakyReLU
    # when the network runs on several batches in one step, as it does here.
    conv = keras.layers.Conv2D
    images = keras.Input(IMAGE_SHAPE)
    h1 = conv(32, 4, strides=2, padding="same", activation="elu")(images)
    h2 = conv(64, 4, strides=2, padding="same", activation="elu")(h1)
    h3 = conv(128, 3, strides=1, padding="same", activation="elu")(h2)
    logit = keras.layers.Dense(1)(keras.layers.Flatten()(h3))
    return keras.Model(images, [h1, h2, h3, logit], name="dcgan_discriminator")
