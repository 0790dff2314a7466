"""``vamp2``: Tomczak & Welling (2018)'s two-layer hierarchical VAE with a VampPrior.

Generative model, top-down:  z2 ~ p(z2) = (1/K) sum_k q(z2 | u_k)  (the VampPrior on
the top layer, K learned pseudo-inputs u_k),  z1 ~ p(z1|z2),  x ~ p(x | z1, z2).
Inference, top layer first:  z2 ~ q(z2|x)  (the architecture's encoder),  then
z1 ~ q(z1 | x, z2). Each draw's log-weight is

    log p(x|z1,z2) + log p(z1|z2) + log p(z2) - log q(z1|x,z2) - log q(z2|x),

and training maximises its one-draw value, the ELBO, with the KL part warmed up.

The code the rest of the package sees is the pair, concatenated: ``[z1, z2]``
(``--latent-dim`` + ``--top-latent-dim`` values). The architecture's decoder reads it
whole, so it is p(x | z1, z2); ``encode`` gives q(z2|x)'s mean and q(z1|x, z2)'s mean
at it. The paper's sizes are ``--arch gated --latent-dim 40 --top-latent-dim 40
--top-hidden 300`` with 500 pseudo-inputs and 100 warm-up epochs. The two networks
of the z1 layer are gated (300 units in the paper) and bound each log-variance to
[-6, 2], as theirs do; the paper's decoder reads z1 and z2 through a gated layer each
before a joint one, ours through the architecture's decoder on the pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import IMAGE_SHAPE, ModelConfig
from mnist_vae.errors import ConfigError
from mnist_vae.models import VAE, TrainingContext, portable_random, with_options
from mnist_vae.models.factory import vae_arguments
from mnist_vae.models.losses import LOG_TWO_PI
from mnist_vae.registry import decoders, encoders, strategies
from mnist_vae.zoo.layers import ClippedLogVariance, GatedDense
from mnist_vae.zoo.strategies.hvae import TopLayerOptions, gaussian_log_density, halves
from mnist_vae.zoo.strategies.vae import StepScheduled
from mnist_vae.zoo.strategies.vamp import (
    PseudoInputs,
    VampOptions,
    mixture_log_density,
    mixture_sample,
)

# Tomczak & Welling's hard tanh on every log-variance: no variance collapses to zero or
# blows up while the learned prior is still moving.
LOG_VARIANCE_LOW, LOG_VARIANCE_HIGH = -6.0, 2.0


@dataclass(frozen=True)
class Vamp2Options(TopLayerOptions, VampOptions):
    """The top layer's size, the z1 networks' width, the pseudo-inputs and the warm-up."""


def z1_networks(
    latent_dim: int, top_dim: int, hidden: int
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """q(z1 | x, z2) in two parts, and p(z1 | z2), gated as Tomczak & Welling's.

    q(z1 | x, z2)'s image part (x -> gated ``hidden``) runs once per image, whatever
    the number of z2 draws; its joint part reads it beside gated(z2).
    """
    images = keras.Input(IMAGE_SHAPE, name="z1_image_input")
    image_net = keras.Model(
        images, GatedDense(hidden)(keras.layers.Flatten()(images)), name="z1_image_net"
    )
    features = keras.Input((hidden,), name="z1_features_input")
    top = keras.Input((top_dim,), name="z1_top_input")
    joint = keras.layers.Concatenate()([features, GatedDense(hidden)(top)])
    stats = keras.layers.Dense(2 * latent_dim)(GatedDense(hidden)(joint))
    bounded = ClippedLogVariance(LOG_VARIANCE_LOW, LOG_VARIANCE_HIGH)
    joint_net = keras.Model([features, top], bounded(stats), name="z1_net")
    z2 = keras.Input((top_dim,), name="top_decoder_input")
    h = GatedDense(hidden)(GatedDense(hidden)(z2))
    top_decoder = keras.Model(
        z2,
        ClippedLogVariance(LOG_VARIANCE_LOW, LOG_VARIANCE_HIGH)(
            keras.layers.Dense(2 * latent_dim)(h)
        ),
        name="top_decoder",
    )
    return image_net, joint_net, top_decoder


@keras.saving.register_keras_serializable(package="mnist_vae")
class TwoLayerVampVAE(StepScheduled, VAE):
    """Two stochastic layers, the VampPrior on the top one; the code is [z1, z2].

    ``latent_dim`` is z1's size; ``steps_per_epoch`` (a keyword, ``StepScheduled``'s)
    paces the KL warm-up.
    """

    options_class = Vamp2Options
    network_keys = ("encoder", "decoder", "z1_image_net", "z1_net", "top_decoder")

    def __init__(
        self,
        encoder,
        decoder,
        z1_image_net,
        z1_net,
        top_decoder,
        latent_dim: int,
        options=None,
        **kwargs,
    ) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.z1_image_net = z1_image_net
        self.z1_net = z1_net
        self.top_decoder = top_decoder
        self.top_dim = self.options.top_latent_dim
        self.pseudo_inputs = PseudoInputs(
            self.options.pseudo_inputs, seed=self.seed, name="pseudo_inputs"
        )

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim + self.top_dim,)

    def optimized_variables(self) -> list:
        networks = (self.z1_image_net, self.z1_net, self.top_decoder, self.pseudo_inputs)
        own = [variable for network in networks for variable in network.trainable_variables]
        return [*super().optimized_variables(), *own]

    # -- the two layers ------------------------------------------------------------

    def top_posterior(self, images, training: bool = False):
        """(mean, log-variance) of q(z2 | x): the architecture's encoder, its log-variance
        held in [-6, 2] as the z1 networks' are."""
        mean, log_variance = halves(self.encoder(images, training=training))
        return mean, keras.ops.clip(log_variance, LOG_VARIANCE_LOW, LOG_VARIANCE_HIGH)

    def z1_posterior(self, features, z2, training: bool = False):
        """(mean, log-variance) of q(z1 | x, z2), from the image's features and z2."""
        return halves(self.z1_net([features, z2], training=training))

    def top_down(self, z2, training: bool = False):
        """(mean, log-variance) of p(z1 | z2)."""
        return halves(self.top_decoder(z2, training=training))

    def prior_components(self):
        """(means, log-variances) [K, D2] of the VampPrior: q(z2 | u_k)."""
        return self.top_posterior(self.pseudo_inputs.images())

    def joint_terms(self, images, features, top, top_noise, noise, training: bool = False):
        """The three log-densities of the draws that ``top_noise`` and ``noise`` make.

        ``images`` [N, 28, 28, 1], ``features`` their z1 image features and ``top`` the
        (mean, log-variance) of their q(z2|x), one row per draw; ``top_noise`` [N, D2]
        and ``noise`` [N, D1] standard normal. Returns per-draw log p(x|z1,z2),
        log p(z1|z2) + log p(z2) and log q(z1|x,z2) + log q(z2|x).
        """
        ops = keras.ops
        top_mean, top_log_variance = top
        z2 = top_mean + ops.exp(0.5 * top_log_variance) * top_noise
        mean, log_variance = self.z1_posterior(features, z2, training=training)
        z1 = mean + ops.exp(0.5 * log_variance) * noise
        logits = self.decode_logits(ops.concatenate([z1, z2], axis=-1), training=training)
        # log q from the noise itself: (z - mean)^2 / variance is noise^2, exactly.
        log_posterior = -0.5 * ops.sum(
            ops.square(top_noise) + top_log_variance + LOG_TWO_PI, axis=-1
        ) - 0.5 * ops.sum(ops.square(noise) + log_variance + LOG_TWO_PI, axis=-1)
        log_prior = gaussian_log_density(
            z1, *self.top_down(z2, training=training)
        ) + mixture_log_density(z2, *self.prior_components())
        return -self.reconstruction_terms(images, logits), log_prior, log_posterior

    # -- the generative-model protocol ---------------------------------------------

    def encode_distribution(self, images, labels=None, training: bool = False):
        """q(z2 | x) and q(z1 | x, z2) at z2 = its mean, concatenated as the code [z1, z2]."""
        top_mean, top_log_variance = self.top_posterior(images, training=training)
        features = self.z1_image_net(images, training=training)
        mean, log_variance = self.z1_posterior(features, top_mean, training=training)
        return (
            keras.ops.concatenate([mean, top_mean], axis=-1),
            keras.ops.concatenate([log_variance, top_log_variance], axis=-1),
        )

    def prior_log_density(self, z):
        """log p(z1 | z2) + log p(z2) of codes [..., D1 + D2]."""
        z1, z2 = z[..., : self.latent_dim], z[..., self.latent_dim :]
        return gaussian_log_density(z1, *self.top_down(z2)) + mixture_log_density(
            z2, *self.prior_components()
        )

    def analytic_kl(self) -> bool:
        return False

    def sample_prior(self, count, seed):
        """z2 from the VampPrior, then z1 ~ p(z1 | z2), from portable noise streams of ``seed``."""
        count, seed = tf.cast(count, tf.int32), tf.cast(seed, tf.int32)
        z2 = mixture_sample(*self.prior_components(), count, seed)
        mean, log_variance = self.top_down(z2)
        noise = portable_random.standard_normal(tf.stack([count, self.latent_dim]), seed + 7919)
        return tf.concat([mean + tf.exp(0.5 * log_variance) * noise, z2], axis=-1)

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """The three log-densities for ``samples`` draws of (z1, z2) per image."""
        ops = keras.ops
        top_mean, top_log_variance = self.top_posterior(images)
        features = self.z1_image_net(images)
        batch = ops.shape(top_mean)[0]

        def tiled(tensor):
            return ops.reshape(ops.tile(tensor[None], (samples, 1, 1)), (samples * batch, -1))

        top_noise = keras.random.normal((samples * batch, self.top_dim), seed=seed_generator)
        noise = keras.random.normal((samples * batch, self.latent_dim), seed=seed_generator)
        terms = self.joint_terms(
            ops.tile(images, (samples, 1, 1, 1)),
            tiled(features),
            (tiled(top_mean), tiled(top_log_variance)),
            top_noise,
            noise,
        )
        likelihood, prior, posterior = (ops.reshape(t, (samples, batch)) for t in terms)
        return {"log_likelihood": likelihood, "log_prior": prior, "log_posterior": posterior}

    # -- the ELBO ----------------------------------------------------------------

    def elbo_terms(self, images, labels=None, training: bool = False):
        """Reconstruction and a one-draw estimate of KL(q(z1, z2|x) || p(z1, z2)), per image."""
        ops = keras.ops
        top = self.top_posterior(images, training=training)
        features = self.z1_image_net(images, training=training)
        seeds = self.sampler.seed_generator
        batch = ops.shape(top[0])[0]
        top_noise = keras.random.normal((batch, self.top_dim), seed=seeds)
        noise = keras.random.normal((batch, self.latent_dim), seed=seeds)
        likelihood, prior, posterior = self.joint_terms(
            images, features, top, top_noise, noise, training=training
        )
        return -likelihood, posterior - prior


@strategies.register
@with_options(Vamp2Options)
def vamp2(
    config: ModelConfig, options: Vamp2Options, context: TrainingContext, seed: int
) -> keras.Model:
    """Two-layer hierarchical VAE with a VampPrior on z2 (Tomczak & Welling 2018)."""
    top = options.top_latent_dim
    encoder = encoders.get(config.encoder)(top)  # q(z2 | x)
    decoder = decoders.get(config.decoder)(config.latent_dim + top)  # p(x | z1, z2)
    if tuple(encoder.output_shape)[1:] != (2 * top,):
        raise ConfigError(f"encoder {encoder.name!r} must output 2 * --top-latent-dim values")
    if tuple(decoder.input_shape)[1:] != (config.latent_dim + top,):
        raise ConfigError(
            f"decoder {decoder.name!r} must read --latent-dim + --top-latent-dim values"
        )
    others = z1_networks(config.latent_dim, top, options.top_hidden)
    return TwoLayerVampVAE(
        encoder,
        decoder,
        *others,
        options=options,
        steps_per_epoch=context.steps_per_epoch,
        **vae_arguments(config, seed),
    )
