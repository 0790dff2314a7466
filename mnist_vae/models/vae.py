"""The Gaussian VAE: a ``keras.Model`` with its own ``train_step`` and ``test_step``.

The base class of the zoo's strategies (registered there as ``vae``). Subclasses
override ``train_step`` (VAE-GAN, task-driven) or the ``encoder_inputs`` /
``decoder_inputs`` hooks (conditional VAE); everything the generative-model
protocol (``mnist_vae.models.protocol``) asks for is implemented here once, for a
diagonal-Gaussian q(z|x) and an N(0, I) prior. A model with another prior
overrides ``sample_prior`` and ``prior_log_density``.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from mnist_vae.config import IMAGE_SHAPE, NUM_CLASSES, StrategyOptions
from mnist_vae.models import portable_random
from mnist_vae.models.layers import GaussianSample
from mnist_vae.models.losses import (
    LOG_TWO_PI,
    kl_to_standard_normal,
    reconstruction_nll,
    standard_normal_log_density,
)
from mnist_vae.models.steps import replica_scaled, step_logs, unpack


@keras.saving.register_keras_serializable(package="mnist_vae")
class VAE(keras.Model):
    """Diagonal-Gaussian encoder q(z|x), N(0, I) prior, decoder p(x|z) on logits.

    Metrics, per image in nats: ``loss`` is the negative ELBO (reconstruction +
    KL), whatever ``beta``; the optimised objective is reconstruction + beta * KL.
    ``options`` holds the strategy's own settings (its options dataclass, or a dict
    of its fields); a strategy names that dataclass in ``options_class``.
    """

    conditional = False  # True when encoder and decoder also take the class label
    # True when training batches mix labelled and unlabelled images (label -1): under
    # ``train --labels N`` such a model sees all images, N of them with their labels.
    semi_supervised = False
    options_class: type[StrategyOptions] | None = None
    network_keys: tuple[str, ...] = ("encoder", "decoder")  # serialised Keras networks

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        latent_dim: int,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        gaussian_variance: float | None = None,
        seed: int | None = None,
        options: StrategyOptions | dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(latent_dim)
        self.likelihood = likelihood
        self.beta = float(beta)
        self.gaussian_variance = None if gaussian_variance is None else float(gaussian_variance)
        self.seed = seed
        self.options = self._resolve_options(options)
        self.sampler = GaussianSample(seed=seed, dtype="float32", name="sampler")
        self.posterior_flow = list(self.build_posterior_flow())
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # The networks arrive built and nothing else owns trainable weights, so the
        # model is built now (saving and optimizer restore rely on it).
        self.built = True

    @classmethod
    def _resolve_options(cls, options):
        if cls.options_class is None:
            return None
        if options is None:
            return cls.options_class()
        if isinstance(options, dict):
            return cls.options_class(**options)
        return options

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

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

    def build_posterior_flow(self) -> list:
        """Layers ``(z, context) -> (z', log|det dz'/dz|)`` applied after the Gaussian draw.

        None here: q(z|x) is the encoder's diagonal Gaussian. A flow posterior (the
        zoo's ``--posterior iaf``) returns its steps; the context is the Gaussian's
        (mean, log-variance), and everything below scores the flowed draws.
        """
        return []

    def analytic_kl(self) -> bool:
        """Whether KL(q(z|x) || p(z)) has its closed form: Gaussian q and N(0, I) prior.

        Otherwise the ELBO uses the one-sample estimate log q(z|x) - log p(z); a model
        with another prior overrides this (and ``prior_log_density``).
        """
        return not self.posterior_flow

    def extra_test_metrics(self, images, labels) -> dict[str, float]:
        """Test-set numbers beyond the ELBO, added to a run's test metrics (e.g. the
        accuracy of a classifier the model holds); ``images`` float, ``labels`` int. None here.
        """
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
        flow = [v for step in self.posterior_flow for v in step.trainable_variables]
        return [*self.encoder.trainable_variables, *self.decoder.trainable_variables, *flow]

    def build_extra_optimizers(self) -> None:
        """Strategies with several players create their other optimizers here."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # A private hook of Keras's TensorFlow trainer, overridden on purpose (the
        # keras range in pyproject.toml is the one tested; the multi-worker test
        # fails if the hook changes): under tf.distribute Keras pulls a batch and
        # reduces it across replicas to build the model symbolically, and that reduce
        # fails under MultiWorkerMirroredStrategy. Our models are built at
        # construction and compile, so there is nothing to build.
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def check_distributable(self) -> None:
        """Raise ``ConfigError`` if this model cannot train under ``tf.distribute``."""

    def kl_weight(self):
        """The KL's weight in this training step: beta, unless a strategy schedules it."""
        return self.beta

    def compile_from_config(self, config: dict) -> None:
        # Reloading a .keras file compiles through this; our compile is custom.
        self.compile(**keras.saving.deserialize_keras_object(config))

    # -- the generative-model protocol ---------------------------------------------

    def encode_distribution(self, images, labels=None, training: bool = False):
        """(mean, log_variance) of q(z | images)."""
        stats = self.encoder(self.encoder_inputs(images, labels), training=training)
        stats = keras.ops.cast(stats, "float32")  # bfloat16 networks: the ELBO stays float32
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def encode(self, images, labels=None):
        """The deterministic code of each image: the Gaussian's mean (through the flow)."""
        mean, log_variance = self.encode_distribution(images, labels)
        return self.transform_posterior_draws(mean, mean, log_variance)[0]

    def posterior_parameters(self, images, labels=None) -> dict:
        """The Gaussian's parameters; with a flow also ``code``, the flowed mean."""
        mean, log_variance = self.encode_distribution(images, labels)
        parameters = {"mean": mean, "log_variance": log_variance}
        if self.posterior_flow:
            parameters["code"] = self.transform_posterior_draws(mean, mean, log_variance)[0]
        return parameters

    def decode_logits(self, z, labels=None, training: bool = False):
        logits = self.decoder(self.decoder_inputs(z, labels), training=training)
        return keras.ops.cast(logits, "float32")

    def decode(self, z, labels=None, training: bool = False):
        """Mean image of p(x | z), in [0, 1]."""
        return keras.ops.sigmoid(self.decode_logits(z, labels, training=training))

    def reconstruct(self, images, labels=None):
        """Decode the posterior mean: the deterministic reconstruction."""
        return self.decode(self.encode(images, labels), labels)

    def sample_prior(self, count, seed):
        """``count`` codes from N(0, I), from portable noise: the same in a SavedModel or TFLite."""
        shape = tf.stack([tf.cast(count, tf.int32), *self.latent_shape])
        return portable_random.standard_normal(shape, seed)

    def prior_log_density(self, z):
        """log p(z) per code."""
        return standard_normal_log_density(z)

    def default_labels(self, count):
        """Labels for unlabelled sampling of a conditional model: classes in turn."""
        return tf.math.floormod(tf.range(tf.cast(count, tf.int32)), NUM_CLASSES)

    def sample(self, count, seed=0, labels=None):
        """Decode ``count`` draws from the prior; conditional models cycle the classes."""
        if self.conditional and labels is None:
            labels = self.default_labels(count)
        return self.decode(self.sample_prior(count, seed), labels)

    def transform_posterior_draws(self, z, mean, log_variance):
        """Map Gaussian draws ``z`` [N, D] to the posterior's: (z', log|det dz'/dz|) per row.

        The steps of ``posterior_flow`` in turn (none: the identity); the ELBO and
        ``log_density_terms`` score the transformed draws.
        """
        log_det = keras.ops.zeros(keras.ops.shape(z)[:-1])
        if not self.posterior_flow:
            return z, log_det
        context = keras.ops.concatenate([mean, log_variance], axis=-1)
        for step in self.posterior_flow:
            z, step_log_det = step(z, context)
            log_det = log_det + step_log_det
        return z, log_det

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """log p(x|z_k), log p(z_k) and log q(z_k|x) for ``samples`` draws z_k ~ q(z|x)."""
        ops = keras.ops
        mean, log_variance = self.encode_distribution(images, labels)
        batch = ops.shape(mean)[0]
        noise = keras.random.normal((samples, batch, self.latent_dim), seed=seed_generator)
        z = mean[None] + ops.exp(0.5 * log_variance)[None] * noise

        def flat(tensor):
            shape = (samples, batch, self.latent_dim)
            return ops.reshape(ops.broadcast_to(tensor, shape), (-1, self.latent_dim))

        flat_z, log_det = self.transform_posterior_draws(
            flat(z), flat(mean[None]), flat(log_variance[None])
        )
        tiled_labels = None if labels is None else ops.tile(labels, (samples,))
        logits = self.decode_logits(flat_z, tiled_labels)
        nll = self.reconstruction_terms(ops.tile(images, (samples, 1, 1, 1)), logits)
        # log q(z|x) from the noise itself: (z - mean)^2 / variance is noise^2, exactly.
        log_posterior = -0.5 * ops.sum(
            ops.square(noise) + log_variance[None] + LOG_TWO_PI, axis=-1
        ) - ops.reshape(log_det, (samples, batch))
        z = ops.reshape(flat_z, (samples, batch, self.latent_dim))
        return {
            "log_likelihood": -ops.reshape(nll, (samples, batch)),
            "log_prior": self.prior_log_density(z),
            "log_posterior": log_posterior,
        }

    def call(self, images, training: bool = False):
        mean, log_variance = self.encode_distribution(images, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        z = self.transform_posterior_draws(z, mean, log_variance)[0]
        return self.decode(z, training=training)

    def export_input_signature(self) -> list:
        """What ``call`` takes, for ``model.export``: a batch of images."""
        return [keras.InputSpec(shape=(None, *IMAGE_SHAPE), dtype="float32")]

    def export(
        self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs
    ):
        """Keras's ``Model.export``, with the input signature filled in.

        The model is built from its networks and never called, so Keras cannot
        infer what ``call`` takes; ``export_input_signature`` says it.
        """
        if input_signature is None:
            input_signature = self.export_input_signature()
        return super().export(
            filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs
        )

    # -- the ELBO ----------------------------------------------------------------

    def posterior_draw(self, images, labels=None, training: bool = False):
        """One reparameterised draw: mean, log_variance, Gaussian z_0, flowed z, log|det|."""
        mean, log_variance = self.encode_distribution(images, labels, training=training)
        z0 = self.sampler(mean, log_variance)
        z, log_det = self.transform_posterior_draws(z0, mean, log_variance)
        return mean, log_variance, z0, z, log_det

    def elbo_parts(self, images, labels=None, training: bool = False):
        """mean, log_variance, z and decoder logits for one reparameterised sample."""
        mean, log_variance, _, z, _ = self.posterior_draw(images, labels, training=training)
        return mean, log_variance, z, self.decode_logits(z, labels, training=training)

    def kl_terms(self, mean, log_variance, z0, z, log_det):
        """Per-image KL(q(z|x) || p(z)): closed form when it has one, else one sample.

        The estimate is log q(z|x) - log p(z) at the draw, with log q from the draw's
        standard-normal noise and the flow's log-determinant.
        """
        if self.analytic_kl():
            return kl_to_standard_normal(mean, log_variance)
        noise = (z0 - mean) * keras.ops.exp(-0.5 * log_variance)
        log_posterior = (
            -0.5 * keras.ops.sum(keras.ops.square(noise) + log_variance + LOG_TWO_PI, axis=-1)
            - log_det
        )
        return log_posterior - self.prior_log_density(z)

    def elbo_terms(self, images, labels=None, training: bool = False):
        """Per-image reconstruction NLL and KL, with one reparameterised sample."""
        mean, log_variance, z0, z, log_det = self.posterior_draw(images, labels, training=training)
        logits = self.decode_logits(z, labels, training=training)
        kl = self.kl_terms(mean, log_variance, z0, z, log_det)
        return self.reconstruction_terms(images, logits), kl

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
        return step_logs(metrics or self.metrics)

    def train_step(self, data):
        images, labels = unpack(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self.elbo_terms(images, labels, training=True)
            objective = keras.ops.mean(reconstruction) + self.kl_weight() * keras.ops.mean(kl)
            objective = replica_scaled(objective)  # inside the tape, so it is differentiated
        self.minimise(tape, objective)
        self.update_elbo_metrics(reconstruction, kl)
        return self.metric_results()

    def minimise(self, tape, objective) -> None:
        """One optimizer step on ``objective``, recorded by ``tape``, over ``optimized_variables``.

        ``objective`` is already ``replica_scaled`` (inside the tape).
        """
        variables = self.optimized_variables()
        self.optimizer.apply(tape.gradient(objective, variables), variables)

    def test_step(self, data):
        """The negative ELBO and its terms: the same numbers for every strategy."""
        images, labels = unpack(data)
        reconstruction, kl = self.elbo_terms(images, labels, training=False)
        self.update_elbo_metrics(reconstruction, kl)
        elbo = [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]
        return self.metric_results(elbo)

    # -- serialisation -----------------------------------------------------------

    def get_config(self) -> dict:
        config = {
            "name": self.name,
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "beta": self.beta,
            "gaussian_variance": self.gaussian_variance,
            "seed": self.seed,
            **{
                key: keras.saving.serialize_keras_object(getattr(self, key))
                for key in self.network_keys
            },
        }
        if self.options is not None:
            config["options"] = dataclasses.asdict(self.options)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        networks = {
            key: keras.saving.deserialize_keras_object(config.pop(key)) for key in cls.network_keys
        }
        if cls.options_class is not None:
            # Runs saved before options were grouped kept each option at the top level.
            names = {field.name for field in dataclasses.fields(cls.options_class)}
            legacy = {key: config.pop(key) for key in list(config) if key in names}
            config["options"] = {**legacy, **(config.get("options") or {})}
        return cls(**networks, **config)


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
