"""``iaf``: a VAE whose posterior is refined by inverse autoregressive flow (Kingma et al. 2016).

The encoder's diagonal Gaussian gives z_0 = mu + sigma * eps; T flow steps then map
it through autoregressive transforms, each made by a masked network (MADE, Germain et
al. 2015) of z and a context h (here the encoder's mean and log-variance):

    [m_t, s_t] = AR_t(z_{t-1}, h),   g_t = sigmoid(s_t),   z_t = g_t * z_{t-1} + (1 - g_t) * m_t

Dimension d of m_t and s_t depends only on dimensions before it (in the step's order;
the order is reversed between steps), so each Jacobian is triangular and

    log q(z_T | x) = log N(z_0; mu, sigma^2) - sum_t sum_d log g_t,d.

The KL has no closed form: the ELBO uses the one-sample estimate
log q(z_T|x) - log p(z_T), and the IWAE bound the same log-densities per sample. The
posterior mean code (``encode``) is the flow applied to mu.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from mnist_vae.config import ModelConfig, StrategyOptions, option
from mnist_vae.models import VAE, TrainingContext, build_networks, vae_arguments, with_options
from mnist_vae.models.losses import LOG_TWO_PI
from mnist_vae.registry import strategies


@dataclass(frozen=True)
class IafOptions(StrategyOptions):
    """The flow's depth and width."""

    flow_steps: int = option(4, "Inverse autoregressive flow steps after the Gaussian.", minimum=1)
    flow_hidden: int = option(
        64, "Hidden units of each step's masked autoregressive network.", minimum=1
    )


def autoregressive_masks(dimension: int, hidden: int, reverse: bool) -> tuple:
    """MADE masks: input->hidden [D, H], hidden->output [H, D], for a dimension order.

    Output d sees inputs strictly before it in the order, so the transform's Jacobian
    is triangular.
    """
    order = np.arange(dimension)[::-1] if reverse else np.arange(dimension)
    degrees_in = np.empty(dimension, int)
    degrees_in[order] = np.arange(dimension)
    degrees_hidden = np.arange(hidden) % max(1, dimension - 1)
    hidden_mask = (degrees_hidden[None, :] >= degrees_in[:, None]).astype("float32")
    output_mask = (degrees_in[None, :] > degrees_hidden[:, None]).astype("float32")
    return hidden_mask, output_mask


@keras.saving.register_keras_serializable(package="mnist_vae")
class IAFStep(keras.layers.Layer):
    """One inverse autoregressive flow step: z -> g * z + (1 - g) * m, with log g."""

    def __init__(self, dimension: int, context_dim: int, hidden: int, reverse: bool,
                 **kwargs) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.dimension, self.context_dim = int(dimension), int(context_dim)
        self.hidden, self.reverse = int(hidden), bool(reverse)
        hidden_mask, output_mask = autoregressive_masks(self.dimension, self.hidden, self.reverse)
        self.hidden_mask, self.output_mask = hidden_mask, output_mask
        glorot = keras.initializers.GlorotUniform(seed=0)
        self.w_in = self.add_weight(shape=(self.dimension, self.hidden), initializer=glorot,
                                    name="w_in")  # fmt: skip
        self.w_context = self.add_weight(shape=(self.context_dim, self.hidden),
                                         initializer=glorot, name="w_context")  # fmt: skip
        self.b_hidden = self.add_weight(shape=(self.hidden,), initializer="zeros", name="b_hidden")
        self.w_m = self.add_weight(shape=(self.hidden, self.dimension), initializer="zeros",
                                   name="w_m")  # fmt: skip
        self.w_s = self.add_weight(shape=(self.hidden, self.dimension), initializer="zeros",
                                   name="w_s")  # fmt: skip
        self.b_m = self.add_weight(shape=(self.dimension,), initializer="zeros", name="b_m")
        # sigmoid(2) ~ 0.88: each step starts close to the identity (Kingma et al.'s advice)
        self.b_s = self.add_weight(
            shape=(self.dimension,), initializer=keras.initializers.Constant(2.0), name="b_s"
        )
        self.built = True

    def call(self, z, context):
        ops = keras.ops
        hidden = ops.elu(
            ops.matmul(z, self.w_in * self.hidden_mask)
            + ops.matmul(context, self.w_context)
            + self.b_hidden
        )
        m = ops.matmul(hidden, self.w_m * self.output_mask) + self.b_m
        s = ops.matmul(hidden, self.w_s * self.output_mask) + self.b_s
        gate = ops.sigmoid(s)
        return gate * z + (1.0 - gate) * m, ops.sum(ops.log_sigmoid(s), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "dimension": self.dimension,
                "context_dim": self.context_dim, "hidden": self.hidden,
                "reverse": self.reverse}  # fmt: skip


@keras.saving.register_keras_serializable(package="mnist_vae")
class IAFVAE(VAE):
    """A VAE with an inverse-autoregressive-flow posterior."""

    options_class = IafOptions

    def __init__(self, encoder, decoder, latent_dim: int, options=None, **kwargs) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        hidden, dimension = self.options.flow_hidden, self.latent_dim
        self.flow = [
            IAFStep(dimension, 2 * dimension, hidden, step % 2 == 1, name=f"iaf_step_{step}")
            for step in range(self.options.flow_steps)
        ]

    def optimized_variables(self) -> list:
        flow = [v for step in self.flow for v in step.trainable_variables]
        return [*super().optimized_variables(), *flow]

    def apply_flow(self, z, mean, log_variance):
        """z_T and sum_t sum_d log g_t,d for z_0 = ``z``; the context is (mean, log-variance)."""
        context = keras.ops.concatenate([mean, log_variance], axis=-1)
        log_gates = keras.ops.zeros(keras.ops.shape(z)[:-1])
        for step in self.flow:
            z, log_gate = step(z, context)
            log_gates = log_gates + log_gate
        return z, log_gates

    def encode(self, images, labels=None):
        mean, log_variance = self.encode_distribution(images, labels)
        return self.apply_flow(mean, mean, log_variance)[0]

    def call(self, images, training: bool = False):
        mean, log_variance = self.encode_distribution(images, training=training)
        z0 = self.sampler(mean, log_variance) if training else mean
        return self.decode(self.apply_flow(z0, mean, log_variance)[0], training=training)

    def flowed_log_posterior(self, noise, log_variance, log_gates):
        """log q(z_T|x) = log N(z_0; mu, sigma^2) - sum log g, with z_0 = mu + sigma * noise."""
        base = -0.5 * keras.ops.sum(keras.ops.square(noise) + log_variance + LOG_TWO_PI, axis=-1)
        return base - log_gates

    def elbo_terms(self, images, labels=None, training: bool = False):
        """Reconstruction and the one-sample KL estimate log q(z_T|x) - log p(z_T)."""
        mean, log_variance = self.encode_distribution(images, labels, training=training)
        z0 = self.sampler(mean, log_variance)
        noise = (z0 - mean) * keras.ops.exp(-0.5 * log_variance)
        z, log_gates = self.apply_flow(z0, mean, log_variance)
        logits = self.decode_logits(z, labels, training=training)
        kl = self.flowed_log_posterior(noise, log_variance, log_gates) - self.prior_log_density(z)
        return self.reconstruction_terms(images, logits), kl

    def transform_posterior_draws(self, z, mean, log_variance):
        """The flow: z_T and log|det| = sum_t sum_d log g_t,d (the base scores the rest)."""
        return self.apply_flow(z, mean, log_variance)

    def posterior_parameters(self, images, labels=None) -> dict:
        """The base Gaussian's parameters and the flowed code of its mean."""
        mean, log_variance = self.encode_distribution(images, labels)
        return {"mean": mean, "log_variance": log_variance,
                "code": self.apply_flow(mean, mean, log_variance)[0]}  # fmt: skip


@strategies.register
@with_options(IafOptions)
def iaf(
    config: ModelConfig, options: IafOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """VAE with an inverse-autoregressive-flow posterior (Kingma et al. 2016)."""
    encoder, decoder = build_networks(config)
    return IAFVAE(encoder, decoder, options=options, **vae_arguments(config, seed))
