"""``hvamp``: the ladder VAE (``hvae``) with a VampPrior on its top layer.

Tomczak & Welling (2018) found a learned prior helps most on a two-layer model: the
top layer's prior is the mixture of its posteriors at K learned pseudo-inputs u_k,

    p(z2) = (1/K) sum_k q(z2 | u_k),

and the rest is ``hvae``'s ladder: p(z1 | z2) and p(x | z1) top-down, q(z2 | x) from the
encoder's bottom-up statistics, q(z1 | x, z2) their precision-weighted combination.
KL(q(z2|x) || p(z2)) has no closed form, so the ELBO charges the one-sample estimate
log q(z2|x) - log p(z2) at the drawn z2 (as ``vamp`` does with its single layer); the
KL of z1 given z2 stays closed-form. The pseudo-inputs are images in [0, 1] trained
with the networks, and the KL is warmed up, as both papers did. Tomczak & Welling's own
two-layer model infers z1 from x and z2 with separate networks, not a ladder.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from mnist_vae.config import ModelConfig
from mnist_vae.declarations import option
from mnist_vae.models import TrainingContext, build_vae, with_options
from mnist_vae.registry import strategies
from mnist_vae.zoo.strategies.hvae import (
    HierarchicalVAE,
    TopLayerOptions,
    gaussian_log_density,
    top_networks,
)
from mnist_vae.zoo.strategies.vae import VaeOptions, kl_warmup_option
from mnist_vae.zoo.strategies.vamp import PseudoInputs, mixture_log_density, sample_mixture


@dataclass(frozen=True)
class HvampOptions(TopLayerOptions):
    """The top layer's size, the prior's pseudo-inputs and the KL warm-up."""

    pseudo_inputs: int = option(
        500, "Learned pseudo-inputs K whose posteriors make up the prior.", minimum=1
    )
    kl_warmup_epochs: int = kl_warmup_option(50)


@keras.saving.register_keras_serializable(package="mnist_vae")
class LadderVampVAE(HierarchicalVAE):
    """The ladder VAE whose top-layer prior mixes the posteriors of learned pseudo-inputs."""

    options_class = HvampOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pseudo_inputs = PseudoInputs(
            self.options.pseudo_inputs, seed=self.seed, name="pseudo_inputs"
        )

    def optimized_variables(self) -> list:
        return [*super().optimized_variables(), *self.pseudo_inputs.trainable_variables]

    def prior_components(self):
        """(means, log_variances) [K, D2]: q(z2 | u_k) of every pseudo-input."""
        return self.bottom_up(self.pseudo_inputs.images())[1]

    def top_prior_log_density(self, z2):
        return mixture_log_density(z2, *self.prior_components())

    def top_kl(self, top, z2):
        """log q(z2|x) - log p(z2) at the draw, one estimate per image [batch, 1]."""
        estimate = gaussian_log_density(z2, *top) - self.top_prior_log_density(z2)
        return estimate[:, None]

    def sample_top_prior(self, count, seed):
        return sample_mixture(*self.prior_components(), count, seed)

    def train_step(self, data):
        return self.scheduled_step(data, VaeOptions(kl_warmup_epochs=self.options.kl_warmup_epochs))


@strategies.register
@with_options(HvampOptions)
def hvamp(
    config: ModelConfig, options: HvampOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Ladder VAE (Sønderby et al. 2016) with a VampPrior (Tomczak & Welling 2018) on z2."""
    return build_vae(
        LadderVampVAE,
        config,
        options,
        seed,
        lambda: top_networks(config, options, inputs=2 * config.latent_dim),
        steps_per_epoch=context.steps_per_epoch,
    )
