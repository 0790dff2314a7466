"""Encoders: 28x28xC images -> 2*latent_dim values (mean, then log-variance).

``input_shape`` is (28, 28, 1) for images; conditional strategies pass extra
channels (the one-hot label, broadcast over the image) and the first layer
simply sees them as more input channels.
"""

from __future__ import annotations

from mnist_vae.backend import keras
from mnist_vae.config import IMAGE_SHAPE
from mnist_vae.registry import encoders
from mnist_vae.zoo.blocks import residual_block
from mnist_vae.zoo.layers import FlattenWithCondition

# MATLAB's dropoutLayer takes the *drop* probability, and the report passed it a
# "keep_prob"; we use a drop rate of 0.1 (keep 90%), see docs/zoo.md.
NET3_DROPOUT = 0.1


@encoders.register
def net1(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Report net1/net2 encoder: conv 3x3/32 s2, conv 3x3/64 s2, dense 2*latent."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(2 * latent_dim),
        ],
        name="net1_encoder",
    )


@encoders.register
def net3(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Report net3 encoder: three conv 4x4/64 (s2, s2, s1) with dropout, dense 2*latent."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(64, 4, strides=2, padding="same", activation="relu"),
            layers.Dropout(NET3_DROPOUT),
            layers.Conv2D(64, 4, strides=2, padding="same", activation="relu"),
            layers.Dropout(NET3_DROPOUT),
            layers.Conv2D(64, 4, strides=1, padding="same", activation="relu"),
            layers.Dropout(NET3_DROPOUT),
            layers.Flatten(),
            layers.Dense(2 * latent_dim),
        ],
        name="net3_encoder",
    )


@encoders.register
def net4(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Report net4 encoder: a multilayer perceptron, dense 512 then dense 2*latent."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dense(2 * latent_dim),
        ],
        name="net4_encoder",
    )


@encoders.register
def resconv(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Residual conv encoder (ours): 28->14->7 with a residual block at each scale."""
    layers = keras.layers
    images = keras.Input(input_shape)
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="swish")(images)
    h = residual_block(h, 32)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="swish")(h)
    h = residual_block(h, 64)
    h = layers.Flatten()(h)
    h = layers.Dense(256, activation="swish")(h)
    return keras.Model(images, layers.Dense(2 * latent_dim)(h), name="resconv_encoder")


@encoders.register
def mlp(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Burda et al. (2016)'s one-layer MLP: dense 200, 200 (tanh), dense 2*latent.

    Condition planes beyond the image's channels enter as their values, not per pixel.
    """
    layers = keras.layers
    conditioned = input_shape[-1] > IMAGE_SHAPE[-1]
    return keras.Sequential(
        [
            keras.Input(input_shape),
            FlattenWithCondition(IMAGE_SHAPE[-1]) if conditioned else layers.Flatten(),
            layers.Dense(200, activation="tanh"),
            layers.Dense(200, activation="tanh"),
            layers.Dense(2 * latent_dim),
        ],
        name="mlp_encoder",
    )
