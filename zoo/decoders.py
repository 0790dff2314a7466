"""Decoders: input_dim values -> 28x28x1 logits (the mean image is their sigmoid).

``input_dim`` is the latent size, plus the label size for conditional strategies
(which concatenate the one-hot label to z at the decoder's input).
"""

from __future__ import annotations

from mnist_vae.backend import keras
from mnist_vae.registry import decoders
from mnist_vae.zoo.blocks import residual_block
from mnist_vae.zoo.encoders import NET3_DROPOUT
from mnist_vae.zoo.layers import GatedDense


def _report_decoder(name: str, input_dim: int, *layers) -> keras.Model:
    """``<name>_decoder``: the report feeds its decoders a 1x1xlatent image, and the
    first of ``layers`` grows it to 7x7."""
    pixel = [keras.Input((input_dim,)), keras.layers.Reshape((1, 1, input_dim))]
    return keras.Sequential([*pixel, *layers], name=f"{name}_decoder")


def _tconv(filters: int, size: int, stride: int, activation: str | None = "relu"):
    """The report's "tconv SIZExSIZE/FILTERS sSTRIDE", 'same'-padded."""
    return keras.layers.Conv2DTranspose(
        filters, size, strides=stride, padding="same", activation=activation
    )


@decoders.register
def net1(input_dim: int) -> keras.Model:
    """Report net1/net4 decoder: tconv 7x7/64 s7, tconv 3x3/32 s2, tconv 3x3/1 s2."""
    return _report_decoder(
        "net1", input_dim, _tconv(64, 7, 7), _tconv(32, 3, 2), _tconv(1, 3, 2, activation=None)
    )


@decoders.register
def net2(input_dim: int) -> keras.Model:
    """Report net2 decoder: tconv 7x7/64 s7, 3x3/64 s2, 3x3/32 s2, 3x3/1 s1."""
    return _report_decoder(
        "net2",
        input_dim,
        _tconv(64, 7, 7),
        _tconv(64, 3, 2),
        _tconv(32, 3, 2),
        _tconv(1, 3, 1, activation=None),
    )


@decoders.register
def net3(input_dim: int) -> keras.Model:
    """Report net3 decoder: tconv 7x7/64 s7, 4x4/32 s2, 4x4/1 s2, with dropout."""
    layers = keras.layers
    return _report_decoder(
        "net3",
        input_dim,
        _tconv(64, 7, 7, activation=None),
        layers.Dropout(NET3_DROPOUT),
        layers.ReLU(),
        _tconv(32, 4, 2, activation=None),
        layers.Dropout(NET3_DROPOUT),
        layers.ReLU(),
        _tconv(1, 4, 2, activation=None),
    )


@decoders.register
def resconv(input_dim: int) -> keras.Model:
    """Residual conv decoder (ours): dense to 7x7x64, residual blocks, 7->14->28."""
    layers = keras.layers
    codes = keras.Input((input_dim,))
    h = layers.Dense(256, activation="swish")(codes)
    h = layers.Dense(7 * 7 * 64, activation="swish")(h)
    h = layers.Reshape((7, 7, 64))(h)
    h = residual_block(h, 64)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="swish")(h)
    h = residual_block(h, 32)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="swish")(h)
    logits = layers.Conv2D(1, 3, padding="same")(h)
    return keras.Model(codes, logits, name="resconv_decoder")


def _dense_decoder(
    name: str, units: int, activation: str | None, input_dim: int, depth: int = 2, hidden=None
) -> keras.Model:
    """``<name>_decoder``: ``depth`` dense layers of ``units``, then one logit per pixel.

    ``hidden(units)`` makes a hidden layer (default: ``Dense`` with ``activation``).
    """
    layers = keras.layers
    hidden = hidden or (lambda size: layers.Dense(size, activation=activation))
    return keras.Sequential(
        [
            keras.Input((input_dim,)),
            *(hidden(units) for _ in range(depth)),
            layers.Dense(28 * 28),
            layers.Reshape((28, 28, 1)),
        ],
        name=f"{name}_decoder",
    )


@decoders.register
def mlp(input_dim: int) -> keras.Model:
    """Burda et al. (2016)'s one-layer MLP decoder: dense 200, 200 (tanh), dense 784."""
    return _dense_decoder("mlp", 200, "tanh", input_dim)


@decoders.register
def mlp600(input_dim: int) -> keras.Model:
    """Kingma et al. (2014)'s M1 decoder: dense 600, 600 (softplus), dense 784."""
    return _dense_decoder("mlp600", 600, "softplus", input_dim)


@decoders.register
def mlp500(input_dim: int) -> keras.Model:
    """M2's decoder as Pyro's SS-VAE example has it: dense 500 (softplus), dense 784."""
    return _dense_decoder("mlp500", 500, "softplus", input_dim, depth=1)


@decoders.register
def gated(input_dim: int) -> keras.Model:
    """Tomczak & Welling (2018)'s MLP decoder: gated dense 300, 300, dense 784."""
    return _dense_decoder("gated", 300, None, input_dim, hidden=GatedDense)


mlp.dense_only = True  # small matrix multiplies: mnist_vae.training.threads
mlp600.dense_only = True
mlp500.dense_only = True
gated.dense_only = True
