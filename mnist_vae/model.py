"""The VAE: a ``keras.Model`` with its own ``train_step`` and ``test_step``.

Registered as strategy ``vae``. Other strategies subclass it and override
``train_step``; encode/decode/reconstruct/sample and the ELBO metrics are shared.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mnist_vae.config import IMAGE_SHAPE
from mnist_vae.layers import GaussianSample
from mnist_vae.losses import kl_to_standard_normal, reconstruction_nll


def images_of(data):
    """Datasets yield (images, labels); plain arrays are images alone."""
    return data[0] if isinstance(data, (tuple, list)) else data


@keras.saving.register_keras_serializable(package="mnist_vae")
class VAE(keras.Model):
    """Diagonal-Gaussian encoder q(z|x), N(0, I) prior, decoder p(x|z) on logits.

    Metrics, per image in nats: ``loss`` is the negative ELBO (reconstruction +
    KL), whatever ``beta``; the optimised objective is reconstruction + beta * KL.
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        latent_dim: int,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        gaussian_variance: float = 1.0,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(latent_dim)
        self.likelihood = likelihood
        self.beta = float(beta)
        self.gaussian_variance = float(gaussian_variance)
        self.seed = seed
        self.sampler = GaussianSample(seed=seed, name="sampler")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # Encoder and decoder arrive built and nothing else owns trainable weights,
        # so the model is built now (saving and optimizer restore rely on it).
        self.built = True

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # -- the generative interface ------------------------------------------------

    def encode(self, images, training: bool = False):
        """Return (mean, log_variance) of q(z | images)."""
        stats = self.encoder(images, training=training)
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def decode_logits(self, z, training: bool = False):
        return self.decoder(z, training=training)

    def decode(self, z, training: bool = False):
        """Mean image of p(x | z), in [0, 1]."""
        return keras.ops.sigmoid(self.decode_logits(z, training=training))

    def reconstruct(self, images):
        """Decode the posterior mean: the deterministic reconstruction."""
        mean, _ = self.encode(images)
        return self.decode(mean)

    def sample(self, count: int, seed: int | None = None):
        """Decode ``count`` draws from the N(0, I) prior."""
        z = keras.random.normal((count, self.latent_dim), seed=seed)
        return self.decode(z)

    def call(self, images, training: bool = False):
        mean, log_variance = self.encode(images, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        return self.decode(z, training=training)

    # -- the ELBO ----------------------------------------------------------------

    def elbo_terms(self, images, training: bool = False):
        """Per-image reconstruction NLL and KL, with one reparameterised sample."""
        mean, log_variance = self.encode(images, training=training)
        z = self.sampler(mean, log_variance)
        logits = self.decode_logits(z, training=training)
        reconstruction = reconstruction_nll(
            self.likelihood, images, logits, variance=self.gaussian_variance
        )
        return reconstruction, kl_to_standard_normal(mean, log_variance)

    def update_elbo_metrics(self, reconstruction, kl) -> dict:
        # Per-image values, so the running means are exact dataset averages.
        self.loss_tracker.update_state(reconstruction + kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        images = images_of(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self.elbo_terms(images, training=True)
            objective = keras.ops.mean(reconstruction) + self.beta * keras.ops.mean(kl)
        gradients = tape.gradient(objective, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self.update_elbo_metrics(reconstruction, kl)

    def test_step(self, data):
        reconstruction, kl = self.elbo_terms(images_of(data), training=False)
        return self.update_elbo_metrics(reconstruction, kl)

    # -- serialisation -----------------------------------------------------------

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "beta": self.beta,
            "gaussian_variance": self.gaussian_variance,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def check_networks(encoder: keras.Model, decoder: keras.Model, latent_dim: int) -> None:
    """Fail early, in one line, when a (plugin) network has the wrong shapes."""
    from mnist_vae.errors import ConfigError

    enc_out = tuple(encoder.output_shape)[1:]
    dec_in = tuple(decoder.input_shape)[1:]
    dec_out = tuple(decoder.output_shape)[1:]
    if enc_out != (2 * latent_dim,):
        raise ConfigError(
            f"encoder {encoder.name!r} outputs shape {enc_out}, expected ({2 * latent_dim},) "
            f"= 2 * latent_dim (mean and log-variance)"
        )
    if dec_in != (latent_dim,) or dec_out != IMAGE_SHAPE:
        raise ConfigError(
            f"decoder {decoder.name!r} maps {dec_in} -> {dec_out}, "
            f"expected ({latent_dim},) -> {IMAGE_SHAPE}"
        )
