"""Custom layers of the base model."""

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
