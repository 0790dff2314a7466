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
from mnist_vae.zoo.layers import FlattenWithCondition, GatedDense

# MATLAB's dropoutLayer takes the *drop* probability, and the report passed it a
# "keep_prob"; we use a drop rate of 0.1 (keep 90%), see docs/zoo.md.
NET3_DROPOUT = 0.1


def _report_encoder(name: str, input_shape, latent_dim: int, *layers) -> keras.Model:
    """``<name>_encoder``: ``layers`` on the images, flattened into 2*latent values."""
    head = [keras.layers.Flatten(), keras.layers.Dense(2 * latent_dim)]
    return keras.Sequential([keras.Input(input_shape), *layers, *head], name=f"{name}_encoder")


def _conv(filters: int, size: int, stride: int):
    """The report's "conv SIZExSIZE/FILTERS sSTRIDE", 'same'-padded, ReLU."""
    return keras.layers.Conv2D(filters, size, strides=stride, padding="same", activation="relu")


@encoders.register
def net1(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Report net1/net2 encoder: conv 3x3/32 s2, conv 3x3/64 s2, dense 2*latent."""
    return _report_encoder("net1", input_shape, latent_dim, _conv(32, 3, 2), _conv(64, 3, 2))


@encoders.register
def net3(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Report net3 encoder: three conv 4x4/64 (s2, s2, s1) with dropout, dense 2*latent."""
    dropout = keras.layers.Dropout
    return _report_encoder(
        "net3",
        input_shape,
        latent_dim,
        _conv(64, 4, 2),
        dropout(NET3_DROPOUT),
        _conv(64, 4, 2),
        dropout(NET3_DROPOUT),
        _conv(64, 4, 1),
        dropout(NET3_DROPOUT),
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


def _dense_encoder(
    name: str,
    units: int,
    activation: str | None,
    latent_dim: int,
    input_shape,
    depth: int = 2,
    hidden=None,
):
    """``<name>_encoder``: ``depth`` dense layers of ``units`` on the flattened image.

    ``hidden(units)`` makes a hidden layer (default: ``Dense`` with ``activation``).
    Condition planes beyond the image's channels enter as their values, not per pixel.
    """
    layers = keras.layers
    conditioned = input_shape[-1] > IMAGE_SHAPE[-1]
    hidden = hidden or (lambda size: layers.Dense(size, activation=activation))
    return keras.Sequential(
        [
            keras.Input(input_shape),
            FlattenWithCondition(IMAGE_SHAPE[-1]) if conditioned else layers.Flatten(),
            *(hidden(units) for _ in range(depth)),
            layers.Dense(2 * latent_dim),
        ],
        name=f"{name}_encoder",
    )


@encoders.register
def mlp(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Burda et al. (2016)'s one-layer MLP: dense 200, 200 (tanh), dense 2*latent."""
    return _dense_encoder("mlp", 200, "tanh", latent_dim, input_shape)


@encoders.register
def mlp600(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Kingma et al. (2014)'s M1: dense 600, 600 (softplus), dense 2*latent."""
    return _dense_encoder("mlp600", 600, "softplus", latent_dim, input_shape)


@encoders.register
def mlp500(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """M2's networks as Pyro's SS-VAE example has them: dense 500 (softplus), dense 2*latent.

    With ``--strategy m2`` this is also the classifier q(y|x) (784-500-10).
    """
    return _dense_encoder("mlp500", 500, "softplus", latent_dim, input_shape, depth=1)


@encoders.register
def gated(latent_dim: int, input_shape: tuple[int, int, int] = IMAGE_SHAPE) -> keras.Model:
    """Tomczak & Welling (2018)'s MLP: gated dense 300, 300, dense 2*latent.

    Its outputs are left unbounded, as every encoder's are (m2 reads them as class
    logits); vamp2 holds its log-variances in [-6, 2], as their code does.
    """
    return _dense_encoder("gated", 300, None, latent_dim, input_shape, hidden=GatedDense)


mlp.dense_only = True  # small matrix multiplies: mnist_vae.training.threads
mlp600.dense_only = True
mlp500.dense_only = True
gated.dense_only = True


# -- conditional encoders split after their first layer ----------------------------------------


class ConditionSplit:
    """A conditional encoder split at its first layer, which is linear in (input, condition).

    A conditional encoder sees its input with the one-hot condition concatenated: as
    constant image planes (``CVAE.encoder_inputs``) or as extra values (m1_m2's codes).
    Its first layer computes W_x x + W_c c + b, and W_x x does not depend on the label.
    A bound that needs q(z | x, y) of one image under several labels (m2's: all ten for
    an unlabelled image) computes W_x x once per image and adds W_c e_y, one row per
    class computed once per call, instead of running the whole encoder on every (image,
    label) pair with label planes built for each. The split slices the layer's existing
    kernel inside the computation: the saved weights are the network's, unchanged.

    ``part`` says how the first layer reads its input: ``"dense"`` (a flat input, or the
    flattened image and one value per plane after ``FlattenWithCondition``),
    ``"flatten"`` (a plain ``Flatten``: each plane's per-pixel weights add up) or
    ``"conv"`` (a convolution of the planes, the same for every image of a class).
    """

    def __init__(
        self, layer, part: str, input_shape: tuple, condition_dim: int, rest: list
    ) -> None:
        self.layer = layer
        self.part = part
        self.input_shape = tuple(input_shape)  # the encoder's, condition included, no batch
        self.condition_dim = int(condition_dim)
        self.rest = list(rest)

    def _kernel(self):
        return keras.ops.cast(self.layer.kernel, self.layer.compute_dtype)

    def input_part(self, inputs):
        """W_x x per input row (before the bias), computed once per image."""
        ops = keras.ops
        inputs = ops.cast(inputs, self.layer.compute_dtype)
        kernel = self._kernel()
        channels = self.input_shape[-1] - self.condition_dim
        if self.part == "conv":
            return ops.conv(
                inputs,
                kernel[..., :channels, :],
                strides=list(self.layer.strides),
                padding=self.layer.padding,
                dilation_rate=self.layer.dilation_rate,
                data_format=self.layer.data_format,
            )
        flat = ops.reshape(inputs[..., :channels], (ops.shape(inputs)[0], -1))
        if self.part == "flatten":
            kernel = ops.reshape(kernel, (*self.input_shape, -1))[..., :channels, :]
            return ops.matmul(flat, ops.reshape(kernel, (-1, ops.shape(kernel)[-1])))
        return ops.matmul(flat, kernel[: -self.condition_dim])

    def condition_part(self):
        """W_c e_y for every class y, [condition_dim, ...]: what a label adds."""
        ops = keras.ops
        kernel = self._kernel()
        channels = self.input_shape[-1] - self.condition_dim
        if self.part == "conv":
            planes = ops.broadcast_to(
                ops.eye(self.condition_dim, dtype=self.layer.compute_dtype)[:, None, None, :],
                (self.condition_dim, *self.input_shape[:-1], self.condition_dim),
            )
            return ops.conv(
                planes,
                kernel[..., channels:, :],
                strides=list(self.layer.strides),
                padding=self.layer.padding,
                dilation_rate=self.layer.dilation_rate,
                data_format=self.layer.data_format,
            )
        if self.part == "flatten":
            kernel = ops.reshape(kernel, (*self.input_shape, -1))[..., channels:, :]
            return ops.sum(kernel, axis=tuple(range(len(self.input_shape) - 1)))
        return kernel[-self.condition_dim :]

    def finish(self, pre_activation, training: bool = False):
        """The first layer's bias and activation, then the encoder's other layers."""
        ops = keras.ops
        outputs = pre_activation
        if self.layer.bias is not None:
            bias = ops.cast(self.layer.bias, self.layer.compute_dtype)
            outputs = outputs + ops.reshape(bias, (1,) * (len(outputs.shape) - 1) + (-1,))
        if self.layer.activation is not None:
            outputs = self.layer.activation(outputs)
        for layer in self.rest:
            outputs = layer(outputs, training=training)
        return outputs

    def __call__(self, inputs, rows, classes, training: bool = False):
        """The encoder's output for ``inputs[rows[r]]`` under class ``classes[r]``, per row r.

        The same values as ``encoder(concatenate([inputs[rows], condition(classes)]))``.
        """
        ops = keras.ops
        pre_activation = ops.take(self.input_part(inputs), rows, axis=0) + ops.take(
            self.condition_part(), classes, axis=0
        )
        return self.finish(pre_activation, training=training)


def split_encoder(encoder, condition_dim: int) -> ConditionSplit | None:
    """``encoder`` split after its first layer (``ConditionSplit``), or None if it cannot be.

    It can when the encoder is a ``keras.Sequential`` whose first layer is a ``Dense`` (on a
    flat input, or after ``FlattenWithCondition`` or a plain ``Flatten``) or a channels-last
    ``Conv2D``, with no LoRA or quantization: ``mlp``, ``net1`` to ``net4`` and m1_m2's
    code encoder. Others (``resconv``, plugins' functional networks) return None, and
    their callers run the whole encoder on the tiled inputs, as before.
    """
    layers = keras.layers
    if not isinstance(encoder, keras.Sequential) or not encoder.layers or condition_dim < 1:
        return None
    input_shape = tuple(encoder.input_shape)[1:]
    if None in input_shape or input_shape[-1] <= condition_dim:
        return None
    first, *rest = encoder.layers
    flatten = None
    if len(input_shape) > 1 and isinstance(first, (FlattenWithCondition, layers.Flatten)):
        if not rest:
            return None
        flatten, first, rest = first, rest[0], rest[1:]
    if getattr(first, "lora_enabled", False) or getattr(first, "quantization_mode", None):
        return None
    if type(first) is layers.Dense:
        if len(input_shape) == 1:
            part = "dense"
        elif isinstance(flatten, FlattenWithCondition):
            channels = input_shape[-1] - condition_dim
            part = "dense" if flatten.image_channels == channels else None
        elif type(flatten) is layers.Flatten and flatten.data_format == "channels_last":
            part = "flatten"
        else:
            part = None
    elif (
        type(first) is layers.Conv2D
        and flatten is None
        and len(input_shape) == 3
        and first.data_format == "channels_last"
        and first.groups == 1
    ):
        part = "conv"
    else:
        part = None
    if part is None:
        return None
    return ConditionSplit(first, part, input_shape, condition_dim, rest)
