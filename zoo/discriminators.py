"""Discriminators for adversarial strategies.

A builder returns a ``keras.Model`` mapping 28x28x1 images to a list: the output of
each hidden block (the feature layers ``--feature-layer`` numbers from 1), then one
real-vs-fake logit per image.
"""

from __future__ import annotations

import keras

from mnist_vae.config import IMAGE_SHAPE
from mnist_vae.registry import discriminators


@keras.saving.register_keras_serializable(package="mnist_vae")
class SpectralConv2D(keras.layers.Conv2D):
    """Conv2D whose kernel is divided by its spectral norm (Miyato et al. 2018).

    The norm is estimated by one power iteration per training call, kept in the
    non-trainable vector ``u``. Unlike ``keras.layers.SpectralNormalization``, the
    normalised kernel is used on the fly and never written back, so the trainable
    kernel changes only when an optimizer updates it.
    """

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.u = self.add_weight(
            shape=(1, self.filters), initializer="random_normal", trainable=False, name="u"
        )

    def normalized_kernel(self, training: bool = False):
        matrix = keras.ops.reshape(self.kernel, (-1, self.filters))
        u = self.u
        v = _l2_normalize(keras.ops.matmul(u, keras.ops.transpose(matrix)))
        u_next = _l2_normalize(keras.ops.matmul(v, matrix))
        if training:
            self.u.assign(u_next)
        u_next = keras.ops.stop_gradient(u_next)
        v = keras.ops.stop_gradient(v)
        sigma = keras.ops.sum(keras.ops.matmul(v, matrix) * u_next)
        return self.kernel / sigma

    def save_own_variables(self, store) -> None:
        # Conv2D saves only kernel and bias; the power-iteration vector travels too.
        for index, variable in enumerate(self.weights):
            store[str(index)] = variable

    def load_own_variables(self, store) -> None:
        for index, variable in enumerate(self.weights):
            variable.assign(store[str(index)])

    def call(self, inputs, training: bool = False):
        outputs = self.convolution_op(inputs, self.normalized_kernel(training))
        if self.use_bias:
            outputs = keras.ops.add(outputs, keras.ops.reshape(self.bias, (1, 1, 1, -1)))
        return self.activation(outputs) if self.activation is not None else outputs


def _l2_normalize(x, epsilon: float = 1e-12):
    return x / keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(keras.ops.square(x)), epsilon))


@discriminators.register
def dcgan() -> keras.Model:
    """DCGAN-style critic, spectrally normalised: conv 4/32 s2, 4/64 s2, 3/128 s1 (ELU), dense 1."""
    # Spectral normalisation keeps each conv 1-Lipschitz, so the features that measure
    # reconstruction cannot grow without bound as the critic trains. ELU rather than
    # DCGAN's LeakyReLU: both pass gradient for negative inputs, and TF's graph
    # optimiser fails (noisily, though harmlessly) to fuse conv + LeakyReLU here.
    images = keras.Input(IMAGE_SHAPE)
    h1 = SpectralConv2D(32, 4, strides=2, padding="same", activation="elu")(images)
    h2 = SpectralConv2D(64, 4, strides=2, padding="same", activation="elu")(h1)
    h3 = SpectralConv2D(128, 3, strides=1, padding="same", activation="elu")(h2)
    logit = keras.layers.Dense(1)(keras.layers.Flatten()(h3))
    return keras.Model(images, [h1, h2, h3, logit], name="dcgan_discriminator")
