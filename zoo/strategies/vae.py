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

from mnist_vae.config import ModelConfig
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError
from mnist_vae.models import VAE, TrainingContext, build_vae, require_unit_beta, with_options
from mnist_vae.models.losses import kl_per_dimension
from mnist_vae.models.steps import replica_scaled, unpack
from mnist_vae.registry import strategies
from mnist_vae.zoo.posteriors import FlowPosterior, PosteriorOptions


def kl_warmup_option(default: int):
    """The ``kl_warmup_epochs`` option, off by default or on for ``default`` epochs."""
    return option(
        default,
        "Epochs over which the KL weight rises linearly from 0 to --beta (0: off).",
        minimum=0,
    )


def free_bits_option():
    """The ``free_bits`` option (Kingma et al. 2016), off by default."""
    return option(
        0.0,
        "Nats of KL per latent dimension (batch mean) that are free: below it a "
        "dimension is not pushed towards the prior (0: off).",
        minimum=0,
    )


@dataclass(frozen=True)
class VaeOptions(PosteriorOptions):
    """The plain VAE's KL schedule (all off by default: the report's protocol) and posterior."""

    kl_warmup_epochs: int = kl_warmup_option(0)
    free_bits: float = free_bits_option()
    capacity: float = option(
        0.0,
        "Capacity annealing: the KL is pulled towards a target rising linearly to this many "
        "nats (0: off; replaces --beta).",
        minimum=0,
    )
    capacity_epochs: int = option(
        20,
        "Epochs over which the capacity target rises to --capacity.",
        minimum=1,
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
            raise ConfigError(
                f"--beta {beta:g} does nothing under --capacity (capacity "
                "annealing replaces the KL weight); drop one of them"
            )

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


class StepScheduled:
    """Mixin, first among a ``VAE``'s bases, for a KL schedule that counts optimizer steps:
    the model keeps (and saves) ``steps_per_epoch``, and ``scheduled_step`` trains on
    reconstruction + ``kl_objective`` of the model's ``kl_dimensions``."""

    def __init__(
        self, *args, steps_per_epoch: int = TrainingContext().steps_per_epoch, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.steps_per_epoch = int(steps_per_epoch)  # the schedules count optimizer steps

    def get_config(self) -> dict:
        return {**super().get_config(), "steps_per_epoch": self.steps_per_epoch}

    def optimizer_step(self):
        """The optimizer updates so far, a float tensor: what the schedules count."""
        return keras.ops.cast(self.optimizer.iterations, "float32")

    def kl_weight(self):
        """beta, reached linearly over the first ``kl_warmup_epochs`` epochs (where the
        strategy has that option): the weight of the KL in ``VAE``'s own step."""
        epochs = getattr(self.options, "kl_warmup_epochs", 0)
        if not epochs:
            return self.beta
        return self.beta * ramp(self.optimizer_step(), epochs, self.steps_per_epoch)

    def scheduled_step(self, data, schedule: VaeOptions):
        """One training step on reconstruction + ``kl_objective`` under ``schedule``."""
        images, labels = unpack(data)
        step = self.optimizer_step()
        with tf.GradientTape() as tape:
            reconstruction, kl_dims = self.kl_dimensions(images, labels, training=True)
            objective = keras.ops.mean(reconstruction) + kl_objective(
                kl_dims, step, schedule, self.beta, self.steps_per_epoch
            )
            objective = replica_scaled(objective)
        self.minimise(tape, objective)
        self.update_elbo_metrics(reconstruction, keras.ops.sum(kl_dims, axis=-1))
        return self.metric_results()


@keras.saving.register_keras_serializable(package="mnist_vae")
class PlainVAE(StepScheduled, FlowPosterior, VAE):
    """``mnist_vae.models.VAE`` with the KL schedules and posteriors of ``VaeOptions``."""

    options_class = VaeOptions

    def kl_dimensions(self, images, labels=None, training: bool = False):
        """Reconstruction per image and the KL per latent dimension [batch, d] (a flow's
        KL is one estimate per image, [batch, 1]: free bits are refused for it)."""
        draw = self.posterior_draw(images, labels, training=training)
        logits = self.decode_logits(draw[3], labels, training=training)
        if self.analytic_kl():
            kl_dims = kl_per_dimension(*draw[:2])
        else:
            kl_dims = self.kl_terms(*draw)[:, None]
        return self.reconstruction_terms(images, logits), kl_dims

    def train_step(self, data):
        if self.options.plain:
            return super().train_step(data)
        return self.scheduled_step(data, self.options)


@strategies.register
@with_options(VaeOptions)
def vae(
    config: ModelConfig, options: VaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Plain VAE: reconstruction + beta * KL, with optional KL warm-up, free bits or capacity.

    With --capacity the KL is pulled towards the target instead, so --beta must stay 1.
    """
    if options.capacity:
        require_unit_beta(config, "--capacity replaces --beta's KL weight")
    return build_vae(PlainVAE, config, options, seed, steps_per_epoch=context.steps_per_epoch)
