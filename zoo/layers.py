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
