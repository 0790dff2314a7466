"""``vae``: the plain VAE (Kingma & Welling 2014), minimising reconstruction + beta * KL,
with the standard training knobs for its KL term.

* KL warm-up: the KL weight rises linearly from 0 to beta over the first
  ``kl_warmup_epochs`` epochs (Bowman et al. 2016; Sønderby et al. 2016).
* Free bits (Kingma et al. 2016): each latent dimension's KL, averaged over the
  batch, is charged at least ``free_bits`` nats, so dimensions below that get no
  push towards the prior: sum_d max(free_bits, mean_batch KL_d).
* Capacity annealing (Burgess et al. 2018): the KL is pulled towards a target C that
  rises linearly from 0 to ``capacity`` nats over ``capacity_epochs`` epochs:
  ``capacity_weight * |KL - C|`` replaces ``beta * KL``.
* beta-VAE (Higgins et al. 2017) is ``--beta``, the model config's KL weight.

With every knob at 0 the objective is exactly the plain ELBO's (times beta on the KL).
``--posterior iaf`` refines the Gaussian posterior by inverse autoregressive flow
(``mnist_vae.zoo.posteriors``); its KL is then a one-sample estimate.
The metrics stay the plain negative ELBO, so runs compare whatever the knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import ModelConfig, option
from mnist_vae.errors import ConfigError
from mnist_vae.models import VAE, TrainingContext, build_networks, vae_arguments, with_options
from mnist_vae.models.losses import kl_per_dimension
from mnist_vae.models.steps import replica_scaled, unpack
from mnist_vae.registry import strategies
from mnist_vae.zoo.posteriors import FlowPosterior, PosteriorOptions


@dataclass(frozen=True)
class VaeOptions(PosteriorOptions):
    """The plain VAE's KL schedule (all off by default: the report's protocol) and posterior."""

    kl_warmup_epochs: int = option(
        0, "Epochs over which the KL weight rises linearly from 0 to --beta (0: off).", minimum=0
    )
    free_bits: float = option(
        0.0,
        "Nats of KL per latent dimension (batch mean) that are free: below it a dimension "
        "is not pushed towards the prior (0: off).",
        minimum=0,
    )
    capacity: float = option(
        0.0,
        "Capacity annealing: the KL is pulled towards a target rising linearly to this many "
        "nats (0: off; replaces --beta).",
        minimum=0,
    )
    capacity_epochs: int = option(
        20, "Epochs over which the capacity target rises to --capacity.", minimum=1,
        needs="capacity",
    )
    capacity_weight: float = option(
        100.0, "Weight of |KL - target| under capacity annealing.", minimum=0, needs="capacity"
    )

    def validate(self) -> None:
        super().validate()
        if self.free_bits and self.posterior != "gaussian":
            raise ConfigError(
                "--free-bits needs the Gaussian posterior's per-dimension KL; "
                "with --posterior iaf use --kl-warmup-epochs or --capacity"
            )
        if self.capacity and self.kl_warmup_epochs:
            raise ConfigError("--capacity and --kl-warmup-epochs are two KL schedules; pick one")

    def check_given(self, given, settings) -> None:
        """Also: capacity annealing replaces --beta, so a --beta beside it would do nothing."""
        super().check_given(given, settings)
        beta = settings.get("beta", ModelConfig.beta)
        if self.capacity and beta != ModelConfig.beta:
            raise ConfigError(f"--beta {beta:g} does nothing under --capacity (capacity "
                              "annealing replaces the KL weight); drop one of them")  # fmt: skip

    @property
    def plain(self) -> bool:
        """Whether the objective is the plain beta-weighted ELBO."""
        return not (self.kl_warmup_epochs or self.free_bits or self.capacity)


def ramp(step, epochs: int, steps_per_epoch: int):
    """min(1, step / (epochs * steps_per_epoch)): a linear schedule from 0 to 1."""
    return keras.ops.minimum(1.0, step / float(max(1, epochs * steps_per_epoch)))


def kl_objective(kl_dims, step, options: VaeOptions, beta: float, steps_per_epoch: int):
    """The KL part of the objective for per-image, per-dimension KLs ``kl_dims`` [batch, d].

    ``step`` counts optimizer updates (a float tensor).
    """
    if options.free_bits:
        kl = keras.ops.sum(keras.ops.maximum(options.free_bits, keras.ops.mean(kl_dims, axis=0)))
    else:
        kl = keras.ops.mean(keras.ops.sum(kl_dims, axis=-1))
    if options.capacity:
        target = options.capacity * ramp(step, options.capacity_epochs, steps_per_epoch)
        return options.capacity_weight * keras.ops.abs(kl - target)
    weight = beta
    if options.kl_warmup_epochs:
        weight = beta * ramp(step, options.kl_warmup_epochs, steps_per_epoch)
    return weight * kl


@keras.saving.register_keras_serializable(package="mnist_vae")
class PlainVAE(FlowPosterior, VAE):
    """``mnist_vae.models.VAE`` with the KL schedules and posteriors of ``VaeOptions``."""

    options_class = VaeOptions

    def __init__(self, encoder, decoder, latent_dim: int, options=None,
                 steps_per_epoch: int = TrainingContext().steps_per_epoch, **kwargs):  # fmt: skip
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.steps_per_epoch = int(steps_per_epoch)  # the schedules count optimizer steps

    def train_step(self, data):
        if self.options.plain:
            return super().train_step(data)
        images, labels = unpack(data)
        step = keras.ops.cast(self.optimizer.iterations, "float32")
        with tf.GradientTape() as tape:
            draw = self.posterior_draw(images, labels, training=True)
            logits = self.decode_logits(draw[3], labels, training=True)
            reconstruction = self.reconstruction_terms(images, logits)
            if self.analytic_kl():
                kl_dims = kl_per_dimension(*draw[:2])
            else:  # a flow: one KL estimate per image (free bits are refused for it)
                kl_dims = self.kl_terms(*draw)[:, None]
            objective = keras.ops.mean(reconstruction) + kl_objective(
                kl_dims, step, self.options, self.beta, self.steps_per_epoch
            )
            objective = replica_scaled(objective)
        variables = self.optimized_variables()
        self.optimizer.apply(tape.gradient(objective, variables), variables)
        self.update_elbo_metrics(reconstruction, keras.ops.sum(kl_dims, axis=-1))
        return self.metric_results()

    def get_config(self) -> dict:
        return {**super().get_config(), "steps_per_epoch": self.steps_per_epoch}


@strategies.register
@with_options(VaeOptions)
def vae(
    config: ModelConfig, options: VaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Plain VAE: reconstruction + beta * KL, with optional KL warm-up, free bits or capacity.

    With --capacity the KL is pulled towards the target instead, so --beta must stay 1.
    """
    if options.capacity and config.beta != 1.0:
        raise ConfigError("--capacity replaces --beta's KL weight; leave --beta at 1")
    encoder, decoder = build_networks(config)
    return PlainVAE(encoder, decoder, options=options, steps_per_epoch=context.steps_per_epoch,
                    **vae_arguments(config, seed))  # fmt: skip
