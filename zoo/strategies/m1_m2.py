"""``m1_m2``: M2 stacked on M1's codes, the M1+M2 model of Kingma et al. (2014).

M1 is a VAE trained without labels: q(z1 | x), p(x | z1). M2 (``m2``) is then a
semi-supervised VAE whose data are M1's codes z1 instead of the images: q(y | z1),
q(z2 | z1, y) and p(z1 | y, z2) (a diagonal Gaussian), all small dense networks. The
generative model is p(y) p(z2) p(z1 | y, z2) p(x | z1), so with U(z1) m2's unlabelled
bound on the codes (and L(z1, y) its labelled one)

    -log p(x)    <= E_q(z1|x)[-log p(x|z1) + log q(z1|x) + U(z1)],
    -log p(x, y) <= E_q(z1|x)[-log p(x|z1) + log q(z1|x) + L(z1, y)].

With ``--m1-run`` a trained unconditional run (``mnist-vae train --strategy vae``)
supplies M1, frozen, as in the paper (the codes z1 are drawn afresh from q(z1|x) every
step); without it M1 is built from the run's architecture and trained jointly with M2.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from mnist_vae.config import NUM_CLASSES, ModelConfig
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.models import TrainingContext, build_networks, vae_arguments, with_options
from mnist_vae.models.losses import LOG_TWO_PI, kl_to_standard_normal, standard_normal_log_density
from mnist_vae.registry import strategies
from mnist_vae.zoo.strategies.m2 import LOG_CLASSES, M2, M2Options

LOG_VARIANCE_RANGE = (-10.0, 10.0)  # p(z1 | y, z2)'s log-variance, clipped for stability


@dataclass(frozen=True)
class M1M2Options(M2Options):
    """M2's settings, plus where M1 comes from and the width of M2's networks on codes."""

    m1_run: str | None = option(
        None,
        "A trained unconditional run (e.g. 'mnist-vae train --strategy vae') whose "
        "encoder and decoder are M1, frozen. Without it M1 is the run's own architecture, "
        "trained jointly with M2.",
        metavar="RUN",
    )
    code_hidden_units: int = option(
        500,
        "Softplus units in the hidden layer of each of M2's networks on the codes (the "
        "paper's 500).",
        minimum=1,
    )

    def check_files(self) -> None:
        """The M1 run, when a model is first configured (``model_config``): missing, it is a
        usage error before any data is read. Not in ``validate``: a saved run keeps the
        path, and its frozen M1 networks travel inside it."""
        if self.m1_run:
            from mnist_vae.settings import run_path_problem

            problem = run_path_problem(self.m1_run)
            if problem is not None:
                raise UsageError(
                    f"--m1-run: {problem}; train M1 first (an unconditional run, e.g. "
                    "'mnist-vae train --strategy vae'), or leave --m1-run out to train M1 "
                    "jointly"
                )


def gaussian_nll(values, stats):
    """-log N(values; mean, exp(log_variance)) summed over the last axis; ``stats`` holds
    the mean and the log-variance side by side."""
    ops = keras.ops
    dim = ops.shape(values)[-1]
    mean, log_variance = stats[:, :dim], ops.clip(stats[:, dim:], *LOG_VARIANCE_RANGE)
    return 0.5 * ops.sum(
        ops.square(values - mean) * ops.exp(-log_variance) + log_variance + LOG_TWO_PI, axis=-1
    )


def dense_network(inputs: int, outputs: int, hidden: int, name: str) -> keras.Model:
    """One softplus hidden layer: the paper's MLPs for M2 on M1's codes."""
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(hidden, activation="softplus"),
            keras.layers.Dense(outputs),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="mnist_vae")
class M1M2(M2):
    """M2 whose "images" are M1's codes: ``encoder``, ``decoder`` and ``classifier`` work on
    z1; ``m1_encoder`` and ``m1_decoder`` map images to z1 and back.

    The public protocol (``encode_distribution``, ``classify``, ``decode``, ``sample``,
    ``log_density_terms``) takes and gives images; ``bound_terms`` draws z1 and hands it
    to m2's bound. Metrics as m2's, for the whole stack: ``reconstruction`` is
    -log p(x | z1), ``kl`` log q(z1|x) + U(z1), so ``loss`` bounds -log p(x).
    """

    options_class = M1M2Options
    network_keys = ("encoder", "decoder", "classifier", "m1_encoder", "m1_decoder")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        classifier: keras.Model,
        m1_encoder: keras.Model,
        m1_decoder: keras.Model,
        latent_dim: int,
        options: M1M2Options | dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(encoder, decoder, classifier, latent_dim, options=options, **kwargs)
        self.m1_encoder = m1_encoder
        self.m1_decoder = m1_decoder
        self.code_dim = int(tuple(m1_encoder.output_shape)[-1]) // 2
        if self.options.m1_run:  # a given M1 stays as it was trained
            m1_encoder.trainable = False
            m1_decoder.trainable = False

    def optimized_variables(self) -> list:
        return [
            *super().optimized_variables(),
            *self.m1_encoder.trainable_variables,
            *self.m1_decoder.trainable_variables,
        ]

    # -- M1 -------------------------------------------------------------------------------

    def m1_posterior(self, images, training: bool = False):
        """(mean, log_variance) of M1's q(z1 | x)."""
        stats = keras.ops.cast(self.m1_encoder(images, training=training), "float32")
        return stats[:, : self.code_dim], stats[:, self.code_dim :]

    def m1_nll(self, images, z1, training: bool = False):
        """-log p(x | z1) under the run's likelihood."""
        logits = keras.ops.cast(self.m1_decoder(z1, training=training), "float32")
        return self.reconstruction_terms(images, logits)

    # -- m2 on the codes: the hooks m2's bound calls with z1 for "images" (row_terms) ------

    def encoder_inputs(self, z1, labels=None):
        return keras.ops.concatenate([z1, self._one_hot(labels)], axis=-1)

    def code_posterior(self, z1, labels, training: bool = False):
        """(mean, log_variance) of q(z2 | z1, y)."""
        stats = keras.ops.cast(
            self.encoder(self.encoder_inputs(z1, labels), training=training), "float32"
        )
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def elbo_terms(self, z1, labels=None, training: bool = False):
        """-log p(z1 | y, z2) and KL(q(z2|z1,y) || p(z2)) per code, one draw of z2."""
        mean, log_variance = self.code_posterior(z1, labels, training=training)
        z2 = self.sampler(mean, log_variance)
        stats = self.decode_logits(z2, labels, training=training)
        return gaussian_nll(z1, stats), kl_to_standard_normal(mean, log_variance)

    def row_terms(self, z1, rows, classes, training: bool = False):
        """-log p(z1 | y, z2) and KL(q(z2|z1,y) || p(z2)) per row (z1[rows], y = classes), one
        draw of z2 each; the code encoder's z1 part is computed once per code."""
        mean, log_variance = self.encode_rows(z1, rows, classes, training=training)
        z2 = self.sampler(mean, log_variance)
        stats = self.decode_logits(z2, classes, training=training)
        return (
            gaussian_nll(keras.ops.take(z1, rows, axis=0), stats),
            kl_to_standard_normal(mean, log_variance),
        )

    def bound_terms(self, images, labels=None, training: bool = False) -> dict:
        """m2's terms on a draw z1 ~ q(z1|x), with M1's part added to the bounds (the
        module's equations): ``m1_cost`` is -log p(x|z1) + log q(z1|x) per image."""
        ops = keras.ops
        mean, log_variance = self.m1_posterior(images, training=training)
        z1 = self.sampler(mean, log_variance)
        noise = (z1 - mean) * ops.exp(-0.5 * log_variance)
        log_q_z1 = -0.5 * ops.sum(ops.square(noise) + log_variance + LOG_TWO_PI, axis=-1)
        nll = self.m1_nll(images, z1, training=training)
        terms = super().bound_terms(z1, labels, training=training)
        m1_cost = nll + log_q_z1
        labelled = terms["labelled"]
        terms["unlabelled_kl"] = (1.0 - labelled) * (
            log_q_z1 + terms["unlabelled_reconstruction"] + terms["unlabelled_kl"]
        )
        terms["unlabelled_reconstruction"] = (1.0 - labelled) * nll
        terms["labelled_bound"] = terms["labelled_bound"] + labelled * m1_cost
        terms["m1_cost"] = m1_cost
        return terms

    def objective(self, terms):
        """m2's objective on the codes plus M1's part, mean over the batch (constant, so
        without gradient, when M1 is frozen)."""
        return super().objective(terms) + keras.ops.mean(terms["m1_cost"])

    # -- the public protocol, on images -------------------------------------------------------

    def classify(self, images):
        """argmax q(y | z1) at M1's posterior mean, int32 [batch]."""
        logits = self.classifier(self.m1_posterior(images)[0], training=False)
        return keras.ops.cast(keras.ops.argmax(logits, axis=-1), "int32")

    def encode_distribution(self, images, labels=None, training: bool = False):
        """(mean, log_variance) of q(z2 | z1, y) at M1's mean z1; without labels y is
        argmax q(y | z1)."""
        z1 = self.m1_posterior(images, training=training)[0]
        if labels is None:
            labels = keras.ops.argmax(self.classifier(z1, training=False), axis=-1)
        return self.code_posterior(z1, labels, training=training)

    def decode(self, z, labels=None, training: bool = False):
        """Mean image of p(x | z1) at the mean of p(z1 | y, z2)."""
        z1 = self.decode_logits(z, labels, training=training)[:, : self.code_dim]
        logits = keras.ops.cast(self.m1_decoder(z1, training=training), "float32")
        return keras.ops.sigmoid(logits)

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """Importance terms of (z1, y, z2) ~ q(z1|x) q(y|z1) q(z2|z1, y), labels unused.

        ``log_likelihood`` log p(x|z1), ``log_prior`` log p(z1|y,z2) + log p(z2) + log p(y),
        ``log_posterior`` log q(z1|x) + log q(y|z1) + log q(z2|z1,y): the IWAE bound on
        them bounds -log p(x), as the test ``loss`` does.
        """
        ops = keras.ops
        batch = ops.shape(images)[0]
        tiled = ops.tile(images, (samples, 1, 1, 1))  # sample-major: row k * batch + b
        mean, log_variance = self.m1_posterior(tiled)
        noise = keras.random.normal(ops.shape(mean), seed=seed_generator)
        z1 = mean + ops.exp(0.5 * log_variance) * noise
        log_q_z1 = -0.5 * ops.sum(ops.square(noise) + log_variance + LOG_TWO_PI, axis=-1)
        log_q = self.class_log_probabilities(z1)
        y = keras.random.categorical(log_q, 1, dtype="int32", seed=seed_generator)[:, 0]
        log_q_y = ops.take_along_axis(log_q, y[:, None], axis=1)[:, 0]
        mean2, log_variance2 = self.code_posterior(z1, y)
        noise2 = keras.random.normal(ops.shape(mean2), seed=seed_generator)
        z2 = mean2 + ops.exp(0.5 * log_variance2) * noise2
        log_q_z2 = -0.5 * ops.sum(ops.square(noise2) + log_variance2 + LOG_TWO_PI, axis=-1)
        log_p_z1 = -gaussian_nll(z1, self.decode_logits(z2, y))

        def per_sample(values):
            return ops.reshape(values, (samples, batch))

        return {
            "log_likelihood": -per_sample(self.m1_nll(tiled, z1)),
            "log_prior": per_sample(log_p_z1 + standard_normal_log_density(z2) - LOG_CLASSES),
            "log_posterior": per_sample(log_q_z1 + log_q_y + log_q_z2),
        }


def m1_networks(config: ModelConfig, options: M1M2Options) -> tuple[keras.Model, keras.Model]:
    """M1's encoder and decoder: the given run's (checked), else the run's architecture's."""
    if not options.m1_run:
        return build_networks(config)
    from mnist_vae.runs import load_run

    run = load_run(options.m1_run)
    if run.config.model.likelihood != config.likelihood:
        raise ConfigError(
            f"--m1-run {options.m1_run} was trained with the "
            f"{run.config.model.likelihood} likelihood; train m1_m2 with "
            f"--likelihood {run.config.model.likelihood}"
        )
    m1 = run.load_model()
    if (
        getattr(m1, "conditional", False)
        or getattr(m1, "posterior_flow", None)
        or not all(hasattr(m1, name) for name in ("encoder", "decoder"))
    ):
        what = f"a {run.config.model.strategy!r} run"
        if getattr(m1, "posterior_flow", None):
            what += " with a flow posterior (--posterior)"
        raise ConfigError(
            f"--m1-run {options.m1_run} is {what}; "
            f"M1 must be an unconditional Gaussian VAE (e.g. --strategy vae)"
        )
    return m1.encoder, m1.decoder


@strategies.register
@with_options(M1M2Options)
def m1_m2(
    config: ModelConfig, options: M1M2Options, context: TrainingContext, seed: int
) -> keras.Model:
    """M1+M2 (Kingma et al. 2014): semi-supervised M2 on the codes of a VAE (M1)."""
    m1_encoder, m1_decoder = m1_networks(config, options)
    code_dim = int(tuple(m1_encoder.output_shape)[-1]) // 2
    hidden, latent = options.code_hidden_units, config.latent_dim
    encoder = dense_network(code_dim + NUM_CLASSES, 2 * latent, hidden, "code_encoder")
    decoder = dense_network(latent + NUM_CLASSES, 2 * code_dim, hidden, "code_decoder")
    classifier = dense_network(code_dim, NUM_CLASSES, hidden, "code_classifier")
    return M1M2(
        encoder,
        decoder,
        classifier,
        m1_encoder,
        m1_decoder,
        options=options,
        **vae_arguments(config, seed),
    )
