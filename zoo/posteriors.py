"""Posteriors beyond the diagonal Gaussian: ``--posterior iaf`` (Kingma et al. 2016).

The encoder's diagonal Gaussian gives z_0 = mu + sigma * eps; T inverse autoregressive
flow steps then map it through autoregressive transforms, each made by a masked
network (MADE, Germain et al. 2015) of z and a context h (the encoder's mean and
log-variance):

    [m_t, s_t] = AR_t(z_{t-1}, h),   g_t = sigmoid(s_t),   z_t = g_t * z_{t-1} + (1 - g_t) * m_t

Dimension d of m_t and s_t depends only on dimensions before it (in the step's order;
the order is reversed between steps), so each Jacobian is triangular and

    log q(z_T | x) = log N(z_0; mu, sigma^2) - sum_t sum_d log g_t,d.

A strategy whose options subclass ``PosteriorOptions`` and whose model mixes in
``FlowPosterior`` gets ``--posterior``, ``--flow-steps`` and ``--flow-hidden``; the
base VAE applies the flow (``transform_posterior_draws``), scores it in the ELBO (the
one-sample KL estimate replaces the closed form) and in the IWAE bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from mnist_vae.config import StrategyOptions
from mnist_vae.declarations import option

POSTERIORS = ("gaussian", "iaf")


@dataclass(frozen=True)
class PosteriorOptions(StrategyOptions):
    """The posterior family: the encoder's Gaussian, or that Gaussian refined by IAF."""

    posterior: str = option(
        "gaussian",
        "Approximate posterior: the encoder's diagonal Gaussian, or that Gaussian "
        "followed by inverse autoregressive flow steps (iaf).",
        choices=POSTERIORS,
    )
    flow_steps: int = option(
        4, "Inverse autoregressive flow steps.", minimum=1, needs=("posterior", "iaf")
    )
    flow_hidden: int = option(
        64,
        "Hidden units of each flow step's masked network.",
        minimum=1,
        needs=("posterior", "iaf"),
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
    """One inverse autoregressive flow step: z -> g * z + (1 - g) * m, with sum log g."""

    def __init__(
        self, dimension: int, context_dim: int, hidden: int, reverse: bool, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.dimension, self.context_dim = int(dimension), int(context_dim)
        self.hidden, self.reverse = int(hidden), bool(reverse)
        hidden_mask, output_mask = autoregressive_masks(self.dimension, self.hidden, self.reverse)
        self.hidden_mask, self.output_mask = hidden_mask, output_mask
        glorot = keras.initializers.GlorotUniform(seed=0)
        self.w_in = self.add_weight(
            shape=(self.dimension, self.hidden), initializer=glorot, name="w_in"
        )
        self.w_context = self.add_weight(
            shape=(self.context_dim, self.hidden), initializer=glorot, name="w_context"
        )
        self.b_hidden = self.add_weight(shape=(self.hidden,), initializer="zeros", name="b_hidden")
        self.w_m = self.add_weight(
            shape=(self.hidden, self.dimension), initializer="zeros", name="w_m"
        )
        self.w_s = self.add_weight(
            shape=(self.hidden, self.dimension), initializer="zeros", name="w_s"
        )
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
        return {
            **super().get_config(),
            "dimension": self.dimension,
            "context_dim": self.context_dim,
            "hidden": self.hidden,
            "reverse": self.reverse,
        }


def iaf_steps(latent_dim: int, steps: int, hidden: int) -> list[IAFStep]:
    """``steps`` IAF steps on a ``latent_dim`` code, the order reversed every other step."""
    return [
        IAFStep(latent_dim, 2 * latent_dim, hidden, step % 2 == 1, name=f"iaf_step_{step}")
        for step in range(steps)
    ]


class FlowPosterior:
    """Mixin for a ``VAE`` whose options subclass ``PosteriorOptions``: builds the flow."""

    def build_posterior_flow(self) -> list:
        options = self.options
        if options.posterior != "iaf":
            return []
        return iaf_steps(self.latent_dim, options.flow_steps, options.flow_hidden)
