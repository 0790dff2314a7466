"""``iwae``: the importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016).

With K draws z_k ~ q(z|x) and weights w_k = p(x|z_k) p(z_k) / q(z_k|x), the model
maximises the bound L_K = log (1/K) sum_k w_k <= log p(x), which tightens as K grows;
L_1 is the ELBO. The gradient flows through the reparameterised draws, each weighted
by its normalised importance weight. The networks and the test metrics are the plain
VAE's (the test ``loss`` is the single-sample negative ELBO, so runs compare); the
training metric ``iwae_bound`` is -L_K per image. With ``--posterior iaf`` the draws
go through the flow and log q(z_k|x) carries its log-determinant.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.models import VAE, TrainingContext, build_vae, require_unit_beta, with_options
from mnist_vae.models.steps import replica_scaled, unpack
from mnist_vae.registry import strategies
from mnist_vae.zoo.posteriors import FlowPosterior, PosteriorOptions


@dataclass(frozen=True)
class ImportanceSampleOptions(StrategyOptions):
    """The number of importance samples in the training objective."""

    iw_samples: int = option(5, "Importance samples K per image in the training bound.", minimum=1)


@dataclass(frozen=True)
class IwaeOptions(ImportanceSampleOptions, PosteriorOptions):
    """The number of importance samples in the training objective, and the posterior."""


def importance_weighted_bound(log_weights):
    """L_K per image from log-weights [K, batch]: logsumexp over K minus log K."""
    samples = keras.ops.shape(log_weights)[0]
    return keras.ops.logsumexp(log_weights, axis=0) - keras.ops.log(
        keras.ops.cast(samples, log_weights.dtype)
    )


def importance_weighted_step(model, data, samples: int, seed_generator, bound_tracker) -> dict:
    """One optimizer step of ``model`` on -L_K, from its ``log_density_terms``.

    The ELBO metrics come from the first draw: its reconstruction and a one-sample KL
    estimate; ``bound_tracker`` gets -L_K per image.
    """
    images, labels = unpack(data)
    with tf.GradientTape() as tape:
        terms = model.log_density_terms(images, labels, samples, seed_generator)
        log_weights = terms["log_likelihood"] + terms["log_prior"] - terms["log_posterior"]
        bound = importance_weighted_bound(log_weights)
        objective = replica_scaled(-keras.ops.mean(bound))
    model.minimise(tape, objective)
    model.update_elbo_metrics(
        -terms["log_likelihood"][0], terms["log_posterior"][0] - terms["log_prior"][0]
    )
    bound_tracker.update_state(-bound)
    return model.metric_results()


class ImportanceWeighted:
    """Training on -L_K for any model with ``log_density_terms`` (``iwae``, ``iwae2``):
    its own stream of importance draws and the ``iwae_bound`` metric. Put it first
    among the bases, so its ``train_step`` is the one used."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        seed = None if self.seed is None else self.seed + 2
        self.importance_seed = keras.random.SeedGenerator(seed)
        self.bound_tracker = keras.metrics.Mean(name="iwae_bound")

    @property
    def metrics(self) -> list:
        return [*super().metrics, self.bound_tracker]

    def train_step(self, data):
        return importance_weighted_step(
            self, data, self.options.iw_samples, self.importance_seed, self.bound_tracker
        )


@keras.saving.register_keras_serializable(package="mnist_vae")
class IWAE(ImportanceWeighted, FlowPosterior, VAE):
    """A VAE trained on the K-sample importance-weighted bound."""

    options_class = IwaeOptions


@strategies.register
@with_options(IwaeOptions)
def iwae(
    config: ModelConfig, options: IwaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """IWAE (Burda et al. 2016): trains on the K-sample importance-weighted bound."""
    require_unit_beta(config, "iwae's bound has no KL weight")
    return build_vae(IWAE, config, options, seed)
