"""Custom Keras layers of the zoo's networks.

Plain ``import keras`` here (as in ``discriminators``), not the backend's lazy proxy:
decorating a class at import time through the proxy would start TensorFlow, and fix its
devices, whenever the zoo loads (``--cpu-devices`` splits them later).
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="mnist_vae")
class FlattenWithCondition(keras.layers.Layer):
    """Flatten the image channels and reduce each condition plane to its one value.

    A conditional model hands its encoder the label as constant image planes
    (``CVAE.encoder_inputs``). A dense first layer on the flattened planes computes the
    same function as one on the label itself (the planes' weights only add up), at
    ``1 + 10 / image_channels`` times the cost: for ``m2``'s ten passes per image that
    was most of a step. Output: flattened image channels, then one value per plane.
    """

    def __init__(self, image_channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.image_channels = int(image_channels)

    def call(self, inputs):
        ops = keras.ops
        image = inputs[..., : self.image_channels]
        planes = ops.mean(inputs[..., self.image_channels :], axis=(1, 2))
        return ops.concatenate([ops.reshape(image, (ops.shape(image)[0], -1)), planes], axis=-1)

    def compute_output_shape(self, input_shape):
        height, width, channels = input_shape[1:]
        return (
            input_shape[0],
            height * width * self.image_channels + channels - self.image_channels,
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "image_channels": self.image_channels}


@keras.saving.register_keras_serializable(package="mnist_vae")
class GatedDense(keras.layers.Layer):
    """A gated dense unit, (W x + b) * sigmoid(V x + c) (Dauphin et al. 2017).

    The unit of Tomczak & Welling's (2018) MLPs. Both products come from one matrix
    multiply into ``2 * units`` values, so a gated layer costs one kernel call.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.projection = keras.layers.Dense(2 * self.units, name="projection")

    def build(self, input_shape) -> None:
        self.projection.build(input_shape)
        self.built = True

    def call(self, inputs):
        # split, not two slices: a slice's gradient scatters into zeros of the whole
        # tensor, and a split's is one concatenation (vamp2's step: 1.2x faster gradients).
        linear, gate = keras.ops.split(self.projection(inputs), 2, axis=-1)
        return linear * keras.ops.sigmoid(gate)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="mnist_vae")
class ClippedLogVariance(keras.layers.Layer):
    """Gaussian statistics (mean, log-variance) with the log-variance held in [low, high].

    Tomczak & Welling bound every log-variance with a hard tanh on [-6, 2]: a variance
    cannot collapse to zero or blow up while a learned prior is still moving.
    """

    def __init__(self, low: float = -6.0, high: float = 2.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    def call(self, stats):
        mean, log_variance = keras.ops.split(stats, 2, axis=-1)
        return keras.ops.concatenate(
            [mean, keras.ops.clip(log_variance, self.low, self.high)], axis=-1
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "low": self.low, "high": self.high}
