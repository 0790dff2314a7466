"""Custom layers used by the models."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="mnist_vae")
class GaussianSample(keras.layers.Layer):
    """Reparameterised draw z = mean + exp(log_variance / 2) * eps, eps ~ N(0, I).

    The noise comes from a seeded ``keras.random.SeedGenerator`` whose state is a
    variable, so a run is reproducible and the state travels with the weights.
    """

    def __init__(self, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # No weights to create: built now, so a model holding it counts as built
        # (tf.distribute's symbolic build would otherwise call the model).
        self.built = True

    def call(self, mean, log_variance):
        noise = keras.random.normal(keras.ops.shape(mean), seed=self.seed_generator)
        return mean + keras.ops.exp(0.5 * log_variance) * noise

    def compute_output_shape(self, mean_shape, log_variance_shape):
        return mean_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


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
