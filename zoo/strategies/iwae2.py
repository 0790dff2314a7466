"""``iwae2``: Burda et al. (2016)'s two-stochastic-layer model, trained on L_K.

Generative model:  z2 ~ N(0, I),  z1 ~ p(z1|z2) = N(mu_p(z2), sigma_p^2(z2)),  x ~ p(x|z1)
(the architecture's decoder). Inference runs bottom-up, as in the paper:
z1 ~ q(z1|x) (the architecture's encoder), then z2 ~ q(z2|z1), a network on the *draw*
of z1. Each draw's log-weight is

    log p(x|z1) + log p(z1|z2) + log N(z2; 0, I) - log q(z1|x) - log q(z2|z1),

and the model trains on L_K = log (1/K) sum_k w_k as ``iwae`` does (``--iw-samples 1``
is the two-layer VAE's single-sample ELBO). Both top networks have two tanh layers.
The paper's sizes are ``--arch mlp --latent-dim 100 --top-latent-dim 50 --top-hidden
100`` (x -> 200 -> 200 -> z1 (100) -> 100 -> 100 -> z2 (50)).

``hvae`` is the other two-layer model here: a ladder VAE, whose q(z1|x, z2) combines
the encoder's estimate with the top-down prior. The code the rest of the package sees
is z1, the decoder's input; the IWAE bound scores the pair (z1, z2).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from mnist_vae.config import ModelConfig
from mnist_vae.models import VAE, TrainingContext, build_vae, require_unit_beta, with_options
from mnist_vae.models.losses import LOG_TWO_PI
from mnist_vae.registry import strategies
from mnist_vae.zoo.strategies.hvae import (
    HierarchicalVAE,
    TopLayerOptions,
    gaussian_log_density,
    top_networks,
)
from mnist_vae.zoo.strategies.iwae import ImportanceSampleOptions, ImportanceWeighted


@dataclass(frozen=True)
class Iwae2Options(TopLayerOptions, ImportanceSampleOptions):
    """The top layer's sizes and the importance samples of the training bound."""


@keras.saving.register_keras_serializable(package="mnist_vae")
class BottomUpTwoLayerVAE(ImportanceWeighted, HierarchicalVAE):
    """Two stochastic layers, inference bottom-up: q(z1|x) q(z2|z1), trained on L_K."""

    options_class = Iwae2Options

    # -- the generative-model protocol: the code is z1 ~ q(z1|x) ----------------------

    def encode_distribution(self, images, labels=None, training: bool = False):
        return VAE.encode_distribution(self, images, labels, training=training)

    def posterior_parameters(self, images, labels=None) -> dict:
        mean, log_variance = self.encode_distribution(images, labels)
        top_mean, top_log_variance = self.split(self.top_encoder(mean))
        return {
            "mean": mean,
            "log_variance": log_variance,
            "top_mean": top_mean,
            "top_log_variance": top_log_variance,
        }

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """log p(x|z1), log p(z1|z2) p(z2) and log q(z1|x) q(z2|z1) for ``samples`` draws."""
        ops = keras.ops
        mean, log_variance = self.encode_distribution(images, labels)
        batch = ops.shape(mean)[0]
        noise = keras.random.normal((samples, batch, self.latent_dim), seed=seed_generator)
        z1 = ops.reshape(
            mean[None] + ops.exp(0.5 * log_variance)[None] * noise, (-1, self.latent_dim)
        )
        # log q(z1|x) from the noise itself: (z1 - mean)^2 / variance is noise^2.
        log_q1 = -0.5 * ops.sum(ops.square(noise) + log_variance[None] + LOG_TWO_PI, axis=-1)
        top_mean, top_log_variance = self.split(self.top_encoder(z1))
        top_noise = keras.random.normal((samples * batch, self.top_dim), seed=seed_generator)
        z2 = top_mean + ops.exp(0.5 * top_log_variance) * top_noise
        log_q2 = -0.5 * ops.sum(ops.square(top_noise) + top_log_variance + LOG_TWO_PI, axis=-1)
        log_prior = gaussian_log_density(z1, *self.top_down(z2)) + gaussian_log_density(
            z2, 0.0, ops.zeros_like(z2)
        )
        tiled_labels = None if labels is None else ops.tile(labels, (samples,))
        nll = self.reconstruction_terms(
            ops.tile(images, (samples, 1, 1, 1)), self.decode_logits(z1, tiled_labels)
        )

        def per_sample(values):
            return ops.reshape(values, (samples, batch))

        return {
            "log_likelihood": -per_sample(nll),
            "log_prior": per_sample(log_prior),
            "log_posterior": log_q1 + per_sample(log_q2),
        }

    def call(self, images, training: bool = False):
        mean, log_variance = self.encode_distribution(images, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        return self.decode(z, training=training)

    # -- the test metrics: one draw's ELBO (the objective, L_K, is ImportanceWeighted's) --

    def elbo_terms(self, images, labels=None, training: bool = False):
        """Reconstruction and a one-draw estimate of KL(q(z1, z2|x) || p(z1, z2)), per image."""
        terms = self.log_density_terms(images, labels, 1, self.sampler.seed_generator)
        return -terms["log_likelihood"][0], terms["log_posterior"][0] - terms["log_prior"][0]


@strategies.register
@with_options(Iwae2Options)
def iwae2(
    config: ModelConfig, options: Iwae2Options, context: TrainingContext, seed: int
) -> keras.Model:
    """Burda et al. (2016)'s two-stochastic-layer model, bottom-up inference, trained on L_K."""
    require_unit_beta(config, "iwae2's bound has no KL weight")
    return build_vae(
        BottomUpTwoLayerVAE,
        config,
        options,
        seed,
        lambda: top_networks(config, options, inputs=config.latent_dim, activation="tanh"),
        steps_per_epoch=context.steps_per_epoch,
    )
