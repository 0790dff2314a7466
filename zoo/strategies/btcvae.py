"""``btcvae``: beta-TCVAE (Chen, Li, Grosse & Duvenaud 2018).

The KL term of the ELBO, averaged over the data, splits into three parts:

    E_x KL(q(z|x) || p(z)) = I(x; z)                          (mutual information)
                           + KL(q(z) || prod_d q(z_d))         (total correlation, TC)
                           + sum_d KL(q(z_d) || p(z_d))        (dimension-wise KL)

and beta-TCVAE minimises reconstruction + alpha * MI + beta * TC + gamma * DWKL,
weighting the total correlation (the statistical dependence between latent
dimensions) more to encourage disentangled codes. The aggregate posterior q(z) is
estimated by minibatch-weighted sampling: for a batch of M draws z_i ~ q(z|x_i) from a
training set of N images,

    log q(z_i)        ~ logsumexp_j log q(z_i | x_j) - log(N M)
    log q(z_i,d)      ~ logsumexp_j log q(z_i,d | x_j) - log(N M)

The test metrics stay the plain negative ELBO; the training metrics add the three
terms' estimates. Minimibatch-weighted sampling gives the batch's own posterior the
weight 1/(N M) rather than 1/N, so it underestimates log q(z) (by up to log M) and the
product of marginals more (by up to D log M): the reported total correlation reads
high and the dimension-wise KL low by such offsets, while the three still add up to
the one-sample KL estimate, and the gradients are the paper's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.models import VAE, TrainingContext, build_vae, require_unit_beta, with_options
from mnist_vae.models.losses import LOG_TWO_PI
from mnist_vae.models.steps import replica_scaled, unpack
from mnist_vae.registry import strategies


@dataclass(frozen=True)
class BtcvaeOptions(StrategyOptions):
    """The weights of the KL's three parts (Chen et al. used 1, 6, 1 on dSprites)."""

    mi_weight: float = option(1.0, "Weight of the mutual information term.", minimum=0)
    tc_weight: float = option(6.0, "Weight of the total correlation term.", minimum=0)
    dimension_kl_weight: float = option(1.0, "Weight of the dimension-wise KL term.", minimum=0)


def kl_decomposition(z, mean, log_variance, dataset_size: int) -> dict:
    """Per-image estimates of the MI, TC and dimension-wise KL terms (minibatch-weighted
    sampling), from draws ``z`` [M, D] of the batch's posteriors N(mean, exp(log_variance))."""
    ops = keras.ops
    # log q(z_i,d | x_j) for every pair (i, j) and dimension d: [M, M, D]
    difference = z[:, None, :] - mean[None, :, :]
    log_density = -0.5 * (
        ops.square(difference) * ops.exp(-log_variance)[None] + log_variance[None] + LOG_TWO_PI
    )
    batch = ops.cast(ops.shape(z)[0], z.dtype)
    log_normaliser = ops.log(batch) + math.log(dataset_size)
    log_q_z_given_x = ops.sum(ops.diagonal(log_density, axis1=0, axis2=1), axis=0)
    log_q_z = ops.logsumexp(ops.sum(log_density, axis=-1), axis=1) - log_normaliser
    log_prod_q_zd = ops.sum(ops.logsumexp(log_density, axis=1) - log_normaliser, axis=-1)
    log_p_z = -0.5 * ops.sum(ops.square(z) + LOG_TWO_PI, axis=-1)
    return {
        "mutual_information": log_q_z_given_x - log_q_z,
        "total_correlation": log_q_z - log_prod_q_zd,
        "dimension_kl": log_prod_q_zd - log_p_z,
    }


@keras.saving.register_keras_serializable(package="mnist_vae")
class BetaTCVAE(VAE):
    """A VAE whose KL term is split, with the total correlation weighted apart."""

    options_class = BtcvaeOptions

    def __init__(
        self,
        encoder,
        decoder,
        latent_dim: int,
        options=None,
        dataset_size: int = TrainingContext().train_images,
        **kwargs,
    ) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.dataset_size = int(dataset_size)  # N of the minibatch-weighted sampling
        names = ("mutual_information", "total_correlation", "dimension_kl")
        self.decomposition_trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self) -> list:
        return [*super().metrics, *self.decomposition_trackers.values()]

    def train_step(self, data):
        images, labels = unpack(data)
        weights = {
            "mutual_information": self.options.mi_weight,
            "total_correlation": self.options.tc_weight,
            "dimension_kl": self.options.dimension_kl_weight,
        }
        with tf.GradientTape() as tape:
            mean, log_variance, z, logits = self.elbo_parts(images, labels, training=True)
            reconstruction = self.reconstruction_terms(images, logits)
            terms = kl_decomposition(z, mean, log_variance, self.dataset_size)
            objective = keras.ops.mean(reconstruction) + sum(
                weight * keras.ops.mean(terms[name]) for name, weight in weights.items()
            )
            objective = replica_scaled(objective)
        self.minimise(tape, objective)
        kl = sum(terms.values())  # the one-sample KL estimate the three parts add up to
        self.update_elbo_metrics(reconstruction, kl)
        for name, values in terms.items():
            self.decomposition_trackers[name].update_state(values)
        return self.metric_results()

    def get_config(self) -> dict:
        return {**super().get_config(), "dataset_size": self.dataset_size}


@strategies.register
@with_options(BtcvaeOptions)
def btcvae(
    config: ModelConfig, options: BtcvaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """beta-TCVAE (Chen et al. 2018): the KL split in three, total correlation weighted apart.

    Its KL weights are its own options, so --beta must stay 1.
    """
    require_unit_beta(
        config, "btcvae weighs its KL with --mi-weight, --tc-weight and --dimension-kl-weight"
    )
    return build_vae(BetaTCVAE, config, options, seed, dataset_size=context.train_images)
