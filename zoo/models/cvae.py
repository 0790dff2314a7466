"""Conditional VAE: q(z | x, y) and p(x | z, y), conditioned by concatenation."""

from __future__ import annotations

import keras
import numpy as np

from mnist_vae.config import NUM_CLASSES
from mnist_vae.model import VAE


@keras.saving.register_keras_serializable(package="mnist_vae")
class CVAE(VAE):
    """A VAE whose encoder and decoder also see the one-hot digit label.

    The encoder gets the label as 10 extra image channels (constant over the
    image), the decoder gets it appended to z; any registered architecture works.
    ``sample_digit`` then draws digit d directly from p(x | z, y=d), z ~ N(0, I).
    """

    conditional = True

    def _one_hot(self, labels):
        if labels is None:
            raise ValueError("a conditional VAE needs the digit labels as well as the images")
        return keras.ops.one_hot(
            keras.ops.cast(keras.ops.reshape(labels, (-1,)), "int32"), NUM_CLASSES
        )

    def encoder_inputs(self, images, labels=None):
        one_hot = self._one_hot(labels)
        planes = keras.ops.ones_like(images[..., :1]) * one_hot[:, None, None, :]
        return keras.ops.concatenate([images, planes], axis=-1)

    def decoder_inputs(self, z, labels=None):
        return keras.ops.concatenate([z, self._one_hot(labels)], axis=-1)

    def sample(self, count: int, seed: int | None = None, labels=None):
        """Prior draws; without labels, digits 0-9 in turn (a 10-column grid shows each digit)."""
        if labels is None:
            labels = np.arange(count) % NUM_CLASSES
        z = keras.random.normal((count, self.latent_dim), seed=seed)
        return self.decode(z, labels)

    def sample_digit(self, digit, count, seed, digit_means=None, noise_variance=None) -> np.ndarray:
        """Digit ``digit`` from p(x | z, y=digit) with z ~ N(0, I); the means are not needed."""
        z = np.random.default_rng(seed).standard_normal((count, self.latent_dim)).astype("float32")
        return self.decode_batched(z, np.full(count, digit))

    def call(self, inputs, training: bool = False):
        images, labels = inputs
        mean, log_variance = self.encode(images, labels, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        return self.decode(z, labels, training=training)
