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
    """DCGAN-style critic, spectrally normalised: conv 4/32 s2, 4/64 s2, 3/128 s1 (ELU), dense 1."""
    # Spectral normalisation keeps each conv 1-Lipschitz, so the features that measure
    # reconstruction cannot grow without bound as the critic trains. ELU rather than
    # DCGAN's LeakyReLU: both pass gradient for negative inputs, and TF's graph
    # optimiser fails (noisily, though harmlessly) to fuse conv + LeakyReLU here.
    from mnist_vae.layers import SpectralConv2D

    images = keras.Input(IMAGE_SHAPE)
    h1 = SpectralConv2D(32, 4, strides=2, padding="same", activation="elu")(images)
    h2 = SpectralConv2D(64, 4, strides=2, padding="same", activation="elu")(h1)
    h3 = SpectralConv2D(128, 3, strides=1, padding="same", activation="elu")(h2)
    logit = keras.layers.Dense(1)(keras.layers.Flatten()(h3))
    return keras.Model(images, [h1, h2, h3, logit], name="dcgan_discriminator")
