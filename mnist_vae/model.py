"""The VAE: a ``keras.Model`` with its own ``train_step`` and ``test_step``.

Registered as strategy ``vae``. Other strategies subclass it: they override
``train_step`` (VAE-GAN, task-driven) or the ``encoder_inputs``/``decoder_inputs``
hooks (conditional VAE); encode/decode/reconstruct/sample and the ELBO metrics
are shared. Every method takes optional ``labels``; only conditional models use them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mnist_vae.config import IMAGE_SHAPE
from mnist_vae.layers import GaussianSample
from mnist_vae.losses import kl_to_standard_normal, reconstruction_nll


def replica_scaled(loss):
    """The share of ``loss`` one replica differentiates under ``tf.distribute``.

    Replicas each see a slice of the global batch and their gradients are summed,
    so a per-replica mean loss is divided by the number of replicas; on one device
    this is the loss itself.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def cross_replica_mean(value):
    """``value`` averaged over replicas (itself on one device): for decisions all must share."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def _multi_worker() -> bool:
    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def unpack(data):
    """Datasets yield (images, labels); plain arrays are images alone."""
    if isinstance(data, (tuple, list)):
        return data[0], (data[1] if len(data) > 1 else None)
    return data, None


@keras.saving.register_keras_serializable(package="mnist_vae")
class VAE(keras.Model):
    """Diagonal-Gaussian encoder q(z|x), N(0, I) prior, decoder p(x|z) on logits.

    Metrics, per image in nats: ``loss`` is the negative ELBO (reconstruction +
    KL), whatever ``beta``; the optimised objective is reconstruction + beta * KL.
    """

    conditional = False  # True when encoder and decoder also take the digit label

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
        self.sampler = GaussianSample(seed=seed, dtype="float32", name="sampler")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # The networks arrive built and nothing else owns trainable weights, so the
        # model is built now (saving and optimizer restore rely on it).
        self.built = True

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # -- hooks for subclasses ------------------------------------------------------

    def encoder_inputs(self, images, labels=None):
        """What the encoder sees; conditional models append the label here."""
        return images

    def decoder_inputs(self, z, labels=None):
        """What the decoder sees; conditional models append the label here."""
        return z

    def extra_networks(self) -> dict[str, keras.Model]:
        """Networks besides encoder and decoder, saved separately with a run."""
        return {}

    def training_callbacks(self) -> list:
        """Callbacks the strategy needs during ``fit`` (e.g. a warm-up schedule)."""
        return []

    def compile(self, optimizer="adam", **kwargs) -> None:
        """Compile, then let the strategy set up any further optimizers it needs."""
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.optimized_variables())
        self.build_extra_optimizers()

    def optimized_variables(self) -> list:
        """The variables the compiled optimizer updates (encoder and decoder here)."""
        return [*self.encoder.trainable_variables, *self.decoder.trainable_variables]

    def build_extra_optimizers(self) -> None:
        """Strategies with several players create their other optimizers here."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under tf.distribute Keras first pulls a batch and reduces it across replicas
        # to build the model symbolically; that reduce fails under
        # MultiWorkerMirroredStrategy. Our models are built at construction and
        # compile, so the build is only needed when something is still unbuilt.
        built = all(layer.built for layer in self._flatten_layers())
        if built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def check_distributable(self) -> None:
        """Raise ``ConfigError`` if this model cannot train under ``tf.distribute``."""

    def compile_from_config(self, config: dict) -> None:
        # Reloading a .keras file compiles through this; our compile is custom.
        self.compile(**keras.saving.deserialize_keras_object(config))

    # -- the generative interface ------------------------------------------------

    def encode(self, images, labels=None, training: bool = False):
        """Return (mean, log_variance) of q(z | images)."""
        stats = self.encoder(self.encoder_inputs(images, labels), training=training)
        stats = keras.ops.cast(stats, "float32")  # bfloat16 networks: the ELBO stays float32
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def decode_logits(self, z, labels=None, training: bool = False):
        logits = self.decoder(self.decoder_inputs(z, labels), training=training)
        return keras.ops.cast(logits, "float32")

    def decode(self, z, labels=None, training: bool = False):
        """Mean image of p(x | z), in [0, 1]."""
        return keras.ops.sigmoid(self.decode_logits(z, labels, training=training))

    def reconstruct(self, images, labels=None):
        """Decode the posterior mean: the deterministic reconstruction."""
        mean, _ = self.encode(images, labels)
        return self.decode(mean, labels)

    def sample(self, count: int, seed: int | None = None, labels=None):
        """Decode ``count`` draws from the N(0, I) prior."""
        z = keras.random.normal((count, self.latent_dim), seed=seed)
        return self.decode(z, labels)

    def decode_batched(self, codes: np.ndarray, labels=None, batch_size: int = 1000) -> np.ndarray:
        """Mean images for many codes, float (N, 28, 28), decoded in batches."""
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(
                    self.decode(
                        codes[s : s + batch_size],
                        None if labels is None else labels[s : s + batch_size],
                    )
                )[..., 0]
                for s in range(0, len(codes), batch_size)
            ]
        )

    def sample_digit(
        self,
        digit: int,
        count: int,
        seed: int,
        digit_means: np.ndarray | None,
        noise_variance: float,
    ) -> np.ndarray:
        """The report's labelled synthesis: decode mean_z(digit) + N(0, noise_variance I)."""
        from mnist_vae.errors import UsageError

        if digit_means is None or np.isnan(digit_means[digit]).any():
            raise UsageError(f"no mean latent code is known for digit {digit}; the run saw none")
        noise = np.random.default_rng(seed).standard_normal((count, self.latent_dim))
        codes = (digit_means[digit] + np.sqrt(noise_variance) * noise).astype("float32")
        return self.decode_batched(codes)

    def call(self, images, training: bool = False):
        mean, log_variance = self.encode(images, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        return self.decode(z, training=training)

    # -- the ELBO ----------------------------------------------------------------

    def elbo_parts(self, images, labels=None, training: bool = False):
        """mean, log_variance, z and decoder logits for one reparameterised sample."""
        mean, log_variance = self.encode(images, labels, training=training)
        z = self.sampler(mean, log_variance)
        return mean, log_variance, z, self.decode_logits(z, labels, training=training)

    def elbo_terms(self, images, labels=None, training: bool = False):
        """Per-image reconstruction NLL and KL, with one reparameterised sample."""
        mean, log_variance, _, logits = self.elbo_parts(images, labels, training=training)
        return self.reconstruction_terms(images, logits), kl_to_standard_normal(mean, log_variance)

    def reconstruction_terms(self, images, logits):
        """Per-image -log p(images | z) under the configured likelihood."""
        return reconstruction_nll(self.likelihood, images, logits, variance=self.gaussian_variance)

    def update_elbo_metrics(self, reconstruction, kl) -> None:
        # Per-image values, so the running means are exact dataset averages.
        self.loss_tracker.update_state(reconstruction + kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)

    def metric_results(self, metrics=None) -> dict:
        """The logs a step returns: each tracker's running mean."""
        results = {metric.name: metric.result() for metric in metrics or self.metrics}
        if _multi_worker():
            # Keras 3 reduces multi-worker logs along axis 0, which scalars lack
            # (tensorflow/tensorflow#72388); a length-1 vector reduces to the mean.
            results = {name: keras.ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    def train_step(self, data):
        images, labels = unpack(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self.elbo_terms(images, labels, training=True)
            objective = keras.ops.mean(reconstruction) + self.beta * keras.ops.mean(kl)
            objective = replica_scaled(objective)  # inside the tape, so it is differentiated
        variables = self.optimized_variables()
        gradients = tape.gradient(objective, variables)
        self.optimizer.apply(gradients, variables)
        self.update_elbo_metrics(reconstruction, kl)
        return self.metric_results()

    def test_step(self, data):
        """The negative ELBO and its terms: the same numbers for every strategy."""
        images, labels = unpack(data)
        reconstruction, kl = self.elbo_terms(images, labels, training=False)
        self.update_elbo_metrics(reconstruction, kl)
        elbo = [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]
        return self.metric_results(elbo)

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
        networks = {
            key: keras.saving.deserialize_keras_object(config.pop(key))
            for key in cls.network_keys()
        }
        return cls(**networks, **config)

    @classmethod
    def network_keys(cls) -> tuple[str, ...]:
        """Constructor arguments that are serialised Keras networks."""
        return ("encoder", "decoder")


def check_networks(
    encoder: keras.Model, decoder: keras.Model, latent_dim: int, condition_dim: int = 0
) -> None:
    """Fail early, in one line, when a (plugin) network has the wrong shapes."""
    from mnist_vae.errors import ConfigError

    enc_in = tuple(encoder.input_shape)[1:]
    enc_out = tuple(encoder.output_shape)[1:]
    dec_in = tuple(decoder.input_shape)[1:]
    dec_out = tuple(decoder.output_shape)[1:]
    image_in = (*IMAGE_SHAPE[:2], IMAGE_SHAPE[2] + condition_dim)
    if enc_in != image_in:
        raise ConfigError(f"encoder {encoder.name!r} takes {enc_in}, expected {image_in}")
    if enc_out != (2 * latent_dim,):
        raise ConfigError(
            f"encoder {encoder.name!r} outputs shape {enc_out}, expected ({2 * latent_dim},) "
            f"= 2 * latent_dim (mean and log-variance)"
        )
    if dec_in != (latent_dim + condition_dim,) or dec_out != IMAGE_SHAPE:
        raise ConfigError(
            f"decoder {decoder.name!r} maps {dec_in} -> {dec_out}, "
            f"expected ({latent_dim + condition_dim},) -> {IMAGE_SHAPE}"
        )
