"""``vqvae``: the vector-quantised VAE (van den Oord, Vinyals & Kavukcuoglu 2017).

Any registered encoder works: its first ``latent_dim`` outputs are z_e (the second
half, a Gaussian's log-variance elsewhere, is ignored), read as L = latent_dim /
code_dim vectors of ``code_dim`` values. Each is replaced by its nearest of K
codebook vectors e_k, and the decoder sees the flattened z_q:

    c_i = argmin_k ||z_e,i - e_k||^2,   z_q,i = e_{c_i}

The decoder's input is z_e + stop_gradient(z_q - z_e) (the straight-through
estimator: z_q forwards, the identity backwards), and the encoder minimises
-log p(x | z_q) + w * ||z_e - sg(z_q)||^2 (the commitment loss). The codebook is not
trained by gradients but by exponential moving averages of its clusters with
Laplace-smoothed counts (the paper's appendix; Razavi et al. 2019). Codes used less
than a threshold per step are restarted at random encoder outputs (as in Jukebox,
Dhariwal et al. 2020).

A masked autoregressive network (MADE, Germain et al. 2015) over the one-hot codes is
the learned prior p(c) = prod_i p(c_i | c_<i), trained jointly on the current codes
(no gradient reaches the encoder). With a one-hot posterior the KL is -log p(c) (the
entropy is 0), so ``kl`` = -log p(c) and ``loss`` = -log p(x | z_q) - log p(c) is a
negative ELBO, as for every strategy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError
from mnist_vae.models import (
    VAE,
    TrainingContext,
    build_vae,
    portable_random,
    require_unit_beta,
    with_options,
)
from mnist_vae.models.steps import replica_scaled, unpack
from mnist_vae.registry import strategies

LAPLACE_EPSILON = 1e-5  # Sonnet's VectorQuantizerEMA default


@dataclass(frozen=True)
class VqvaeOptions(StrategyOptions):
    """The codebook, its EMA updates and the autoregressive prior."""

    codebook_size: int = option(64, "Codebook vectors K of the VQ-VAE.", minimum=2)
    code_dim: int = option(
        2, "Values per VQ-VAE code: --latent-dim is read as latent/code_dim codes.", minimum=1
    )
    commitment_weight: float = option(
        0.25, "Weight of the VQ-VAE's commitment loss ||z_e - sg(z_q)||^2.", minimum=0
    )
    ema_decay: float = option(
        0.99, "Decay of the moving averages that update the VQ-VAE codebook.", minimum=0
    )
    restart_threshold: float = option(
        1.0,
        "Restart a VQ-VAE code whose average assignments per step fall below this, at a "
        "random encoder output (0: never).",
        minimum=0,
    )
    prior_hidden: int = option(
        512, "Hidden units per layer of the VQ-VAE's autoregressive prior.", minimum=1
    )
    prior_layers: int = option(2, "Hidden layers of the VQ-VAE's autoregressive prior.", minimum=1)

    def validate(self) -> None:
        if self.ema_decay >= 1:
            raise ConfigError(f"--ema-decay must be below 1, got {self.ema_decay!r}")


# -- vector quantisation -------------------------------------------------------------


def nearest_codes(vectors, codebook):
    """The index of each row's nearest codebook row (squared Euclidean), int32 [N]."""
    ops = keras.ops
    distances = (
        ops.sum(ops.square(vectors), axis=-1, keepdims=True)
        - 2.0 * ops.matmul(vectors, ops.transpose(codebook))
        + ops.sum(ops.square(codebook), axis=-1)[None, :]
    )
    # tf.argmin itself: keras.ops.argmin adds a sign-bit test that TFLite has no kernel for
    return tf.argmin(distances, axis=-1, output_type=tf.int32)


def straight_through(z_e, z_q):
    """z_q forwards; backwards the identity, so d loss / d z_e is d loss / d z_q."""
    return z_e + keras.ops.stop_gradient(z_q - z_e)


def code_perplexity(indices, codebook_size: int):
    """exp(entropy) of the codes' empirical distribution: how many codes are in use."""
    ops = keras.ops
    flat = ops.reshape(indices, (-1,))
    usage = ops.mean(ops.one_hot(flat, codebook_size, dtype="float32"), axis=0)
    return ops.exp(-ops.sum(usage * ops.log(ops.maximum(usage, 1e-12))))


def ema_codebook_update(
    counts, sums, codebook, vectors, indices, decay: float, epsilon: float = LAPLACE_EPSILON
):
    """One EMA step of the codebook: (counts, sums, codebook) after this batch.

        N_k <- decay N_k + (1 - decay) n_k            n_k: vectors assigned to code k
        m_k <- decay m_k + (1 - decay) sum_{c_i = k} z_e,i
        e_k  = m_k / N~_k,  N~_k = (N_k + eps) / (sum_j N_j + K eps) * sum_j N_j

    The Laplace smoothing keeps N~_k above 0. A code never assigned (N_k = 0) keeps
    its vector: with m and N both started at 0 their ratio needs no bias correction.
    """
    ops = keras.ops
    size = codebook.shape[0]
    one_hot = ops.one_hot(indices, size, dtype=vectors.dtype)  # [N, K]
    counts = decay * counts + (1.0 - decay) * ops.sum(one_hot, axis=0)
    sums = decay * sums + (1.0 - decay) * ops.matmul(ops.transpose(one_hot), vectors)
    total = ops.sum(counts)
    smoothed = (counts + epsilon) / (total + size * epsilon) * total
    centroids = sums / ops.maximum(smoothed, 1e-30)[:, None]
    return counts, sums, ops.where((counts > 0)[:, None], centroids, codebook)


def restart_dead_codes(counts, sums, codebook, fresh, dead):
    """Move the ``dead`` codes to ``fresh`` vectors [K, D]; keep m_k / N_k at the new place.

    m_k becomes fresh_k * N_k, so later EMA steps average from the new position.
    """
    ops = keras.ops
    dead = dead[:, None]
    return ops.where(dead, fresh * counts[:, None], sums), ops.where(dead, fresh, codebook)


@keras.saving.register_keras_serializable(package="mnist_vae")
class VectorQuantizer(keras.layers.Layer):
    """K codebook vectors, updated by EMA (non-trainable weights, saved with the model)."""

    def __init__(
        self,
        codebook_size: int,
        code_dim: int,
        decay: float = 0.99,
        restart_threshold: float = 1.0,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("dtype", "float32")  # the codes stay float32 under mixed precision
        super().__init__(**kwargs)
        self.codebook_size, self.code_dim = int(codebook_size), int(code_dim)
        self.decay, self.restart_threshold = float(decay), float(restart_threshold)
        self.seed = seed
        shape = (self.codebook_size, self.code_dim)
        self.codebook = self.add_weight(
            shape=shape,
            trainable=False,
            name="codebook",
            initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=seed),
        )
        self.ema_counts = self.add_weight(
            shape=(self.codebook_size,), initializer="zeros", trainable=False, name="ema_counts"
        )
        self.ema_sums = self.add_weight(
            shape=shape, initializer="zeros", trainable=False, name="ema_sums"
        )
        self.updates = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="updates"
        )
        self.restart_seed = keras.random.SeedGenerator(None if seed is None else seed + 5)
        self.built = True

    def call(self, vectors):
        """Nearest codes of ``vectors`` [N, D]: (indices [N], their vectors [N, D])."""
        indices = nearest_codes(vectors, self.codebook)
        return indices, self.lookup(indices)

    def lookup(self, indices):
        """The codebook vectors of ``indices``."""
        return keras.ops.take(self.codebook, indices, axis=0)

    def update(self, vectors, indices):
        """One EMA step, then restarts; returns how many codes were restarted."""
        counts, sums, codebook = ema_codebook_update(
            self.ema_counts, self.ema_sums, self.codebook, vectors, indices, self.decay
        )
        updates = self.updates + 1.0
        restarted = keras.ops.zeros(())
        if self.restart_threshold > 0:
            # N_k is an EMA started at 0: divided by 1 - decay^t it is the usage per step.
            usage = counts / (1.0 - keras.ops.power(self.decay, updates))
            dead = usage < self.restart_threshold
            rows = keras.random.randint(
                (self.codebook_size,), 0, keras.ops.shape(vectors)[0], seed=self.restart_seed
            )
            fresh = keras.ops.take(vectors, rows, axis=0)
            sums, codebook = restart_dead_codes(counts, sums, codebook, fresh, dead)
            restarted = keras.ops.sum(keras.ops.cast(dead, "float32"))
        self.ema_counts.assign(counts)
        self.ema_sums.assign(sums)
        self.codebook.assign(codebook)
        self.updates.assign(updates)
        return restarted

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "codebook_size": self.codebook_size,
            "code_dim": self.code_dim,
            "decay": self.decay,
            "restart_threshold": self.restart_threshold,
            "seed": self.seed,
        }


# -- the autoregressive prior ---------------------------------------------------------


def made_masks(length: int, categories: int, hidden_sizes) -> list[np.ndarray]:
    """MADE masks over ``length`` one-hot groups of ``categories`` units each.

    Group i (0-based) has degree i + 1; hidden units get degrees 1..L-1 in turn; a
    hidden unit sees inputs of degree <= its own, output group i only hidden units of
    degree < i + 1. So the logits of code i depend on codes before i alone.
    Returns [input->hidden_1, ..., hidden_n->output].
    """
    group_degrees = np.repeat(np.arange(1, length + 1), categories)
    masks, previous = [], group_degrees
    for size in hidden_sizes:
        degrees = np.arange(size) % max(1, length - 1) + 1
        masks.append((degrees[None, :] >= previous[:, None]).astype("float32"))
        previous = degrees
    masks.append((group_degrees[None, :] > previous[:, None]).astype("float32"))
    return masks


@keras.saving.register_keras_serializable(package="mnist_vae")
class CodePrior(keras.layers.Layer):
    """p(c) = prod_i p(c_i | c_<i) over L codes of K categories: a MADE on one-hot codes."""

    def __init__(
        self,
        length: int,
        categories: int,
        hidden: int = 512,
        layers: int = 2,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.length, self.categories = int(length), int(categories)
        self.hidden, self.layers_count, self.seed = int(hidden), int(layers), seed
        self.masks = made_masks(self.length, self.categories, [self.hidden] * self.layers_count)
        width = self.length * self.categories
        self.kernels, self.biases = [], []
        sizes = [width] + [self.hidden] * self.layers_count
        for number, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            seed_n = None if seed is None else seed + 11 + number
            self.kernels.append(
                self.add_weight(
                    shape=(fan_in, fan_out),
                    name=f"kernel_{number}",
                    initializer=keras.initializers.GlorotUniform(seed=seed_n),
                )
            )
            self.biases.append(
                self.add_weight(shape=(fan_out,), initializer="zeros", name=f"bias_{number}")
            )
        # A zero output layer: the prior starts uniform, -log p(c) = L log K.
        self.output_kernel = self.add_weight(
            shape=(self.hidden, width), initializer="zeros", name="output_kernel"
        )
        self.output_bias = self.add_weight(shape=(width,), initializer="zeros", name="output_bias")
        self.built = True

    def features(self, one_hot):
        """The last hidden layer for flattened one-hot codes [N, L*K]."""
        h = one_hot
        for kernel, bias, mask in zip(self.kernels, self.biases, self.masks[:-1], strict=True):
            h = keras.ops.elu(keras.ops.matmul(h, kernel * mask) + bias)
        return h

    def call(self, one_hot):
        """Logits [N, L, K] of each code given the codes before it."""
        logits = keras.ops.matmul(self.features(one_hot), self.output_kernel * self.masks[-1])
        logits = logits + self.output_bias
        return keras.ops.reshape(logits, (-1, self.length, self.categories))

    def one_hot(self, codes):
        """int codes [N, L] -> flattened one-hot [N, L*K]."""
        encoded = keras.ops.one_hot(codes, self.categories, dtype="float32")
        return keras.ops.reshape(encoded, (-1, self.length * self.categories))

    def log_prob(self, codes):
        """log p(c) per row of int codes [N, L]: the sum of the L conditionals."""
        one_hot = self.one_hot(codes)
        log_probs = keras.ops.log_softmax(self(one_hot), axis=-1)
        chosen = log_probs * keras.ops.reshape(one_hot, (-1, self.length, self.categories))
        return keras.ops.sum(chosen, axis=(1, 2))

    def sample(self, count, seed):
        """``count`` code sequences [count, L] int32, one code after the other (Gumbel-max).

        The noise is ``portable_random``'s, so the draws are the same in a SavedModel
        and in TFLite; every op here is a TFLite builtin.
        """
        count, seed = tf.cast(count, tf.int32), tf.cast(seed, tf.int32)
        size = self.categories
        uniform = portable_random.uniform(tf.stack([count, self.length, size]), seed)
        gumbel = -tf.math.log(-tf.math.log(uniform))
        columns = [tf.zeros(tf.stack([count, size])) for _ in range(self.length)]
        output_kernel = self.output_kernel * self.masks[-1]
        choices = []
        for i in range(self.length):  # later columns are still zeros: code i cannot see them
            features = self.features(tf.concat(columns, axis=1))
            logits = tf.matmul(features, output_kernel[:, i * size : (i + 1) * size])
            logits = logits + self.output_bias[i * size : (i + 1) * size]
            choice = tf.argmax(logits + gumbel[:, i, :], axis=-1, output_type=tf.int32)
            columns[i] = tf.one_hot(choice, size, dtype=tf.float32)
            choices.append(choice)
        return tf.stack(choices, axis=1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "length": self.length,
            "categories": self.categories,
            "hidden": self.hidden,
            "layers": self.layers_count,
            "seed": self.seed,
        }


# -- the model ---------------------------------------------------------------------------


def check_code_dim(latent_dim: int, code_dim: int) -> None:
    if latent_dim % code_dim:
        raise ConfigError(
            f"vqvae reads --latent-dim as codes of --code-dim values: {latent_dim} is not a "
            f"multiple of {code_dim}"
        )


@keras.saving.register_keras_serializable(package="mnist_vae")
class VQVAE(VAE):
    """Vector-quantised codes, an EMA codebook and a learned autoregressive prior."""

    options_class = VqvaeOptions

    def __init__(self, encoder, decoder, latent_dim: int, options=None, **kwargs) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        options = self.options
        check_code_dim(self.latent_dim, options.code_dim)
        self.code_count = self.latent_dim // options.code_dim
        seed = self.seed
        self.quantizer = VectorQuantizer(
            options.codebook_size,
            options.code_dim,
            options.ema_decay,
            options.restart_threshold,
            seed=seed,
            name="quantizer",
        )
        self.code_prior = CodePrior(
            self.code_count,
            options.codebook_size,
            options.prior_hidden,
            options.prior_layers,
            seed=seed,
            name="code_prior",
        )
        self.commitment_tracker = keras.metrics.Mean(name="commitment")
        self.perplexity_tracker = keras.metrics.Mean(name="perplexity")
        self.code_nll_tracker = keras.metrics.Mean(name="prior_nll_per_code")
        self.restart_tracker = keras.metrics.Mean(name="restarts")

    @property
    def metrics(self) -> list:
        extra = [
            self.commitment_tracker,
            self.perplexity_tracker,
            self.code_nll_tracker,
            self.restart_tracker,
        ]
        return [*super().metrics, *extra]

    def optimized_variables(self) -> list:
        return [*super().optimized_variables(), *self.code_prior.trainable_variables]

    def check_distributable(self) -> None:
        # Each replica would update the codebook from its own slice of the batch.
        raise ConfigError(
            "vqvae's EMA codebook updates are per replica; train it without --distribute"
        )

    # -- codes ----------------------------------------------------------------------

    def encode_continuous(self, images, labels=None, training: bool = False):
        """z_e [N, latent_dim]: the encoder's first half (its second half is unused)."""
        return self.encode_distribution(images, labels, training=training)[0]

    def to_codes(self, z):
        """Nearest codes of z [N, latent_dim]: (indices [N, L] int32, z_q [N, latent_dim])."""
        vectors = keras.ops.reshape(z, (-1, self.options.code_dim))
        indices, quantised = self.quantizer(vectors)
        return (
            keras.ops.reshape(indices, (-1, self.code_count)),
            keras.ops.reshape(quantised, (-1, self.latent_dim)),
        )

    def codes_to_latent(self, indices):
        """Code indices [N, L] -> z_q [N, latent_dim]."""
        return keras.ops.reshape(self.quantizer.lookup(indices), (-1, self.latent_dim))

    def encode(self, images, labels=None):
        """z_q: the quantised code of each image."""
        return self.to_codes(self.encode_continuous(images, labels))[1]

    def posterior_parameters(self, images, labels=None) -> dict:
        """z_e (``mean``), z_q (``code``) and the code indices."""
        z_e = self.encode_continuous(images, labels)
        indices, z_q = self.to_codes(z_e)
        return {"mean": z_e, "code": z_q, "indices": indices}

    def decode(self, z, labels=None, training: bool = False):
        """The image of z snapped to its nearest codes (z_q itself is left unchanged).

        So anything given as z (a digit's mean code plus noise, a latent-grid point)
        decodes as codes the decoder was trained on.
        """
        return keras.ops.sigmoid(self.decode_logits(self.to_codes(z)[1], labels, training))

    def call(self, images, training: bool = False):
        return self.decode(self.encode_continuous(images, training=training), training=training)

    # -- the prior ------------------------------------------------------------------

    def sample_prior(self, count, seed):
        """z_q of ``count`` code sequences drawn from the autoregressive prior."""
        return self.codes_to_latent(self.code_prior.sample(count, seed))

    def prior_log_density(self, z):
        """log p(c) of z's nearest codes (a probability mass), for z [..., latent_dim]."""
        shape = keras.ops.shape(z)[:-1]
        indices, _ = self.to_codes(keras.ops.reshape(z, (-1, self.latent_dim)))
        return keras.ops.reshape(self.code_prior.log_prob(indices), shape)

    # -- the ELBO -------------------------------------------------------------------

    def elbo_terms(self, images, labels=None, training: bool = False):
        """-log p(x | z_q) and the KL of a point mass on c to the prior, -log p(c)."""
        indices, z_q = self.to_codes(self.encode_continuous(images, labels, training=training))
        logits = self.decode_logits(z_q, labels, training=training)
        return self.reconstruction_terms(images, logits), -self.code_prior.log_prob(indices)

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """The posterior is one point: every draw is z_q, with log q = 0."""
        ops = keras.ops
        reconstruction, kl = self.elbo_terms(images, labels)
        shape = (samples, ops.shape(reconstruction)[0])
        return {
            "log_likelihood": ops.broadcast_to(-reconstruction[None], shape),
            "log_prior": ops.broadcast_to(-kl[None], shape),
            "log_posterior": ops.zeros(shape),
        }

    def train_step(self, data):
        images, labels = unpack(data)
        ops = keras.ops
        with tf.GradientTape() as tape:
            z_e = self.encode_continuous(images, labels, training=True)
            indices, z_q = self.to_codes(z_e)
            logits = self.decode_logits(straight_through(z_e, z_q), labels, training=True)
            reconstruction = self.reconstruction_terms(images, logits)
            commitment = ops.sum(ops.square(z_e - ops.stop_gradient(z_q)), axis=-1)
            prior_nll = -self.code_prior.log_prob(ops.stop_gradient(indices))
            objective = (
                ops.mean(reconstruction)
                + self.options.commitment_weight * ops.mean(commitment)
                + ops.mean(prior_nll)  # reaches only the prior: the codes are integers
            )
            objective = replica_scaled(objective)
        self.minimise(tape, objective)
        restarted = self.quantizer.update(
            ops.reshape(z_e, (-1, self.options.code_dim)), ops.reshape(indices, (-1,))
        )
        self.update_elbo_metrics(reconstruction, prior_nll)
        self.commitment_tracker.update_state(commitment)
        self.perplexity_tracker.update_state(code_perplexity(indices, self.options.codebook_size))
        self.code_nll_tracker.update_state(prior_nll / float(self.code_count))
        self.restart_tracker.update_state(restarted)
        return self.metric_results()


@strategies.register
@with_options(VqvaeOptions)
def vqvae(
    config: ModelConfig, options: VqvaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """VQ-VAE (van den Oord et al. 2017): EMA codebook and a learned autoregressive prior."""
    check_code_dim(config.latent_dim, options.code_dim)
    require_unit_beta(config, "vqvae's ELBO has no KL weight")
    return build_vae(VQVAE, config, options, seed)
