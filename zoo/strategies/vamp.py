"""``vamp``: the VampPrior (Tomczak & Welling 2018), a learned prior.

The prior is the mixture of the encoder's posteriors at K learned pseudo-inputs u_k:

    p(z) = (1/K) sum_k q(z | u_k).

The KL term has no closed form, so the ELBO uses the one-sample estimate
log q(z|x) - log p(z) at the reparameterised draw z (train and test alike; the base
VAE's ``kl_terms``). The
pseudo-inputs are images in [0, 1] trained with the networks. Sampling picks a
component uniformly and draws from it; IWAE evaluation and the export's ``sample``
use this prior through the generative-model protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import IMAGE_SHAPE, ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.models import VAE, TrainingContext, build_vae, portable_random, with_options
from mnist_vae.models.losses import LOG_TWO_PI
from mnist_vae.registry import strategies
from mnist_vae.zoo.strategies.vae import StepScheduled, kl_warmup_option


@dataclass(frozen=True)
class VampOptions(StrategyOptions):
    """The size of the VampPrior's mixture."""

    pseudo_inputs: int = option(
        500, "Learned pseudo-inputs K whose posteriors make up the prior.", minimum=1
    )
    # Tomczak & Welling warmed the KL up too: a learned prior can otherwise meet the
    # posteriors half-way before the decoder uses z, and the codes collapse.
    kl_warmup_epochs: int = kl_warmup_option(50)


@keras.saving.register_keras_serializable(package="mnist_vae")
class PseudoInputs(keras.layers.Layer):
    """K learned images in [0, 1] (clipped), started near mid-grey."""

    def __init__(self, count: int, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count = int(count)
        self.seed = seed
        self.pixels = self.add_weight(
            shape=(self.count, *IMAGE_SHAPE),
            initializer=keras.initializers.RandomNormal(mean=0.5, stddev=0.05, seed=seed),
            name="pixels",
        )
        self.built = True

    def images(self):
        """The pseudo-inputs, (K, 28, 28, 1) in [0, 1]."""
        return keras.ops.clip(self.pixels, 0.0, 1.0)

    def call(self, inputs=None):
        return self.images()

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count, "seed": self.seed}


def mixture_log_density(z, means, log_variances):
    """log (1/K) sum_k N(z; means_k, diag exp(log_variances_k)), for z [..., D].

    Expanded into matrix products, so the memory is [N, K] rather than [N, K, D].
    """
    ops = keras.ops
    shape = ops.shape(z)
    flat = ops.reshape(z, (-1, shape[-1]))
    precision = ops.exp(-log_variances)  # [K, D]
    quadratic = (
        ops.matmul(ops.square(flat), ops.transpose(precision))
        - 2.0 * ops.matmul(flat, ops.transpose(means * precision))
        + ops.sum(ops.square(means) * precision, axis=-1)[None, :]
    )  # [N, K]: sum_d (z_d - mu_kd)^2 / sigma_kd^2
    dimension = ops.cast(shape[-1], z.dtype)
    log_components = -0.5 * (
        quadratic + ops.sum(log_variances, axis=-1)[None, :] + dimension * LOG_TWO_PI
    )
    count = ops.cast(ops.shape(means)[0], z.dtype)
    log_density = ops.logsumexp(log_components, axis=-1) - ops.log(count)
    return ops.reshape(log_density, shape[:-1])


def mixture_sample(means, log_variances, count, seed):
    """``count`` draws from the equal-weight mixture of diagonal Gaussians [K, D].

    A uniformly chosen component per draw, then a draw from it, both from portable
    noise of ``seed``: the same draws in TensorFlow, a SavedModel or TFLite.
    """
    count, seed = tf.cast(count, tf.int32), tf.cast(seed, tf.int32)
    components_count = tf.shape(means)[0]
    noise = portable_random.standard_normal(tf.stack([count, tf.shape(means)[1]]), seed)
    # The component choice from another stream of the same seed.
    uniform = portable_random.uniform(tf.reshape(count, [1]), seed + 104729)
    components = tf.cast(tf.floor(uniform * tf.cast(components_count, tf.float32)), tf.int32)
    components = tf.minimum(components, components_count - 1)
    return tf.gather(means, components) + tf.exp(0.5 * tf.gather(log_variances, components)) * noise


@keras.saving.register_keras_serializable(package="mnist_vae")
class VampVAE(StepScheduled, VAE):
    """A VAE whose prior is the mixture of its posteriors at learned pseudo-inputs.

    ``steps_per_epoch`` (a keyword, ``StepScheduled``'s) paces the KL warm-up.
    """

    options_class = VampOptions

    def __init__(self, encoder, decoder, latent_dim: int, options=None, **kwargs) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.pseudo_inputs = PseudoInputs(
            self.options.pseudo_inputs, seed=self.seed, name="pseudo_inputs"
        )

    def optimized_variables(self) -> list:
        return [*super().optimized_variables(), *self.pseudo_inputs.trainable_variables]

    def prior_components(self):
        """(means, log_variances) [K, D] of the mixture: the posteriors of the pseudo-inputs."""
        return self.encode_distribution(self.pseudo_inputs.images())

    def prior_log_density(self, z):
        return mixture_log_density(z, *self.prior_components())

    def analytic_kl(self) -> bool:
        return False  # the mixture prior has no closed-form KL: the base estimates it

    def sample_prior(self, count, seed):
        """A uniformly chosen component per draw, then a draw from it; portable noise."""
        return mixture_sample(*self.prior_components(), count, seed)


@strategies.register
@with_options(VampOptions)
def vamp(
    config: ModelConfig, options: VampOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """VampPrior VAE (Tomczak & Welling 2018): the prior mixes learned pseudo-inputs' posteriors."""
    return build_vae(VampVAE, config, options, seed, steps_per_epoch=context.steps_per_epoch)
