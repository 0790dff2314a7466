"""``hvae``: a hierarchical VAE with two stochastic layers, a ladder VAE (Sønderby et al. 2016).

Generative model, top-down:  z2 ~ N(0, I),  z1 ~ p(z1|z2) = N(mu_p(z2), sigma_p^2(z2)),
x ~ p(x|z1) (the architecture's decoder). Inference shares that top-down path: the
architecture's encoder gives a bottom-up Gaussian (mu_b, sigma_b^2) for z1; a small
network on it gives q(z2|x); then, for a draw z2, the posterior of z1 is the
precision-weighted combination of the bottom-up estimate and the top-down prior:

    sigma_q^-2 = sigma_b^-2 + sigma_p^-2,   mu_q = sigma_q^2 (mu_b sigma_b^-2 + mu_p sigma_p^-2)

The ELBO, with both KLs in closed form given the sampled z2:

    log p(x|z1) - KL(q(z2|x) || N(0, I)) - KL(q(z1|x, z2) || p(z1|z2)).

Sønderby et al. needed KL warm-up (on by default here) to keep the top layer in use;
free bits (Kingma et al. 2016) are an option. The code the rest of the package sees
(``latent_shape``, ``encode``, ``decode``, ``sample_prior``) is z1, the decoder's input;
``log_density_terms`` scores the pair (z1, z2), so the IWAE bound is the two-layer
model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.models import VAE, TrainingContext, build_vae, portable_random, with_options
from mnist_vae.models.losses import LOG_TWO_PI, kl_per_dimension
from mnist_vae.registry import strategies
from mnist_vae.zoo.strategies.vae import (
    StepScheduled,
    VaeOptions,
    free_bits_option,
    kl_warmup_option,
)


@dataclass(frozen=True)
class TopLayerOptions(StrategyOptions):
    """The size of a two-layer model's top stochastic layer and of its two networks."""

    top_latent_dim: int = option(32, "Size of the top stochastic layer z2.", minimum=1)
    top_hidden: int = option(
        256,
        "Units of the two hidden layers in each top network (z2's encoder, p(z1|z2)).",
        minimum=1,
    )


@dataclass(frozen=True)
class HvaeOptions(TopLayerOptions):
    """The top layer's size and the KL tricks the ladder VAE needs."""

    kl_warmup_epochs: int = kl_warmup_option(50)
    free_bits: float = free_bits_option()


def gaussian_kl_per_dimension(mean_q, log_variance_q, mean_p, log_variance_p):
    """KL(N(mean_q, var_q) || N(mean_p, var_p)) per dimension, elementwise."""
    ops = keras.ops
    return 0.5 * (
        log_variance_p
        - log_variance_q
        + (ops.exp(log_variance_q) + ops.square(mean_q - mean_p)) * ops.exp(-log_variance_p)
        - 1.0
    )


def precision_weighted(mean_a, log_variance_a, mean_b, log_variance_b):
    """The normalised product of two diagonal Gaussians: the ladder VAE's posterior."""
    ops = keras.ops
    log_variance = -ops.logaddexp(-log_variance_a, -log_variance_b)  # 1 / (sum of precisions)
    weight_a = ops.exp(log_variance - log_variance_a)  # the two weights sum to one
    mean = weight_a * mean_a + (1.0 - weight_a) * mean_b
    return mean, log_variance


def gaussian_log_density(z, mean, log_variance):
    """log N(z; mean, diag exp(log_variance)) per row."""
    return -0.5 * keras.ops.sum(
        keras.ops.square(z - mean) * keras.ops.exp(-log_variance) + log_variance + LOG_TWO_PI,
        axis=-1,
    )


def halves(stats):
    """(mean, log-variance), float32: a Gaussian layer's statistics [..., 2 * d] in two. A
    split, not two slices: a slice's gradient scatters into zeros of the whole tensor."""
    return keras.ops.split(keras.ops.cast(stats, "float32"), 2, axis=-1)


def gaussian_head(
    inputs: int, hidden: int, outputs: int, name: str, activation: str = "elu"
) -> keras.Model:
    """inputs -> two hidden layers -> (mean, log-variance) of ``outputs`` values, concatenated."""
    x = keras.Input((inputs,), name=f"{name}_input")
    h = keras.layers.Dense(hidden, activation=activation, name=f"{name}_hidden_1")(x)
    h = keras.layers.Dense(hidden, activation=activation, name=f"{name}_hidden_2")(h)
    stats = keras.layers.Dense(2 * outputs, name=f"{name}_stats")(h)
    return keras.Model(x, stats, name=name)


def top_networks(
    config: ModelConfig, options: TopLayerOptions, inputs: int, activation: str = "elu"
) -> tuple[keras.Model, keras.Model]:
    """The two top networks: q(z2 | ``inputs`` values) and p(z1 | z2)."""
    dim, top, hidden = config.latent_dim, options.top_latent_dim, options.top_hidden
    return (
        gaussian_head(inputs, hidden, top, name="top_encoder", activation=activation),
        gaussian_head(top, hidden, dim, name="top_decoder", activation=activation),
    )


@keras.saving.register_keras_serializable(package="mnist_vae")
class HierarchicalVAE(StepScheduled, VAE):
    """Two stochastic layers with a shared top-down path (a ladder VAE).

    ``steps_per_epoch`` (a keyword, ``StepScheduled``'s) paces the KL warm-up.
    """

    options_class = HvaeOptions
    network_keys = ("encoder", "decoder", "top_encoder", "top_decoder")

    def __init__(
        self, encoder, decoder, top_encoder, top_decoder, latent_dim: int, options=None, **kwargs
    ) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.top_encoder = top_encoder  # q(z2|x) from the bottom-up statistics of z1
        self.top_decoder = top_decoder  # p(z1|z2)
        self.top_dim = self.options.top_latent_dim

    def optimized_variables(self) -> list:
        top = [*self.top_encoder.trainable_variables, *self.top_decoder.trainable_variables]
        return [*super().optimized_variables(), *top]

    # -- the two layers ------------------------------------------------------------

    def split(self, stats):
        return halves(stats)

    def bottom_up(self, images, labels=None, training: bool = False):
        """(mu_b, log sigma_b^2) of z1 from the encoder, and (mean, log-variance) of q(z2|x)."""
        stats = keras.ops.cast(
            self.encoder(self.encoder_inputs(images, labels), training=training), "float32"
        )
        top = keras.ops.cast(self.top_encoder(stats, training=training), "float32")
        return self.split(stats), self.split(top)

    def top_down(self, z2, training: bool = False):
        """(mean, log-variance) of p(z1 | z2)."""
        return self.split(keras.ops.cast(self.top_decoder(z2, training=training), "float32"))

    def z1_posterior(self, bottom, z2, training: bool = False):
        """q(z1 | x, z2) and p(z1 | z2): ((mean, log-variance), (mean, log-variance))."""
        prior = self.top_down(z2, training=training)
        return precision_weighted(*bottom, *prior), prior

    # -- the generative-model protocol ---------------------------------------------

    def encode_distribution(self, images, labels=None, training: bool = False):
        """q(z1 | x, z2) at z2 = the mean of q(z2 | x)."""
        bottom, (top_mean, _) = self.bottom_up(images, labels, training=training)
        return self.z1_posterior(bottom, top_mean, training=training)[0]

    def posterior_parameters(self, images, labels=None) -> dict:
        bottom, (top_mean, top_log_variance) = self.bottom_up(images, labels)
        mean, log_variance = self.z1_posterior(bottom, top_mean)[0]
        return {
            "mean": mean,
            "log_variance": log_variance,
            "top_mean": top_mean,
            "top_log_variance": top_log_variance,
        }

    def sample_prior(self, count, seed):
        """z2 ~ N(0, I), then z1 ~ p(z1 | z2), from two portable noise streams of ``seed``."""
        count, seed = tf.cast(count, tf.int32), tf.cast(seed, tf.int32)
        z2 = portable_random.standard_normal(tf.stack([count, self.top_dim]), seed)
        mean, log_variance = self.top_down(z2)
        noise = portable_random.standard_normal(tf.stack([count, self.latent_dim]), seed + 7919)
        return mean + tf.exp(0.5 * log_variance) * noise

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """log p(x|z1), log p(z1|z2) p(z2) and log q(z1|x,z2) q(z2|x) for draws of (z1, z2)."""
        ops = keras.ops
        bottom, (top_mean, top_log_variance) = self.bottom_up(images, labels)
        batch = ops.shape(top_mean)[0]

        def tiled(tensor):
            return ops.reshape(ops.tile(tensor[None], (samples, 1, 1)), (samples * batch, -1))

        top_noise = keras.random.normal((samples * batch, self.top_dim), seed=seed_generator)
        top_mean, top_log_variance = tiled(top_mean), tiled(top_log_variance)
        z2 = top_mean + ops.exp(0.5 * top_log_variance) * top_noise
        (mean, log_variance), prior = self.z1_posterior((tiled(bottom[0]), tiled(bottom[1])), z2)
        noise = keras.random.normal((samples * batch, self.latent_dim), seed=seed_generator)
        z1 = mean + ops.exp(0.5 * log_variance) * noise
        tiled_labels = None if labels is None else ops.tile(labels, (samples,))
        nll = self.reconstruction_terms(
            ops.tile(images, (samples, 1, 1, 1)), self.decode_logits(z1, tiled_labels)
        )
        log_prior = gaussian_log_density(z2, 0.0, ops.zeros_like(z2)) + gaussian_log_density(
            z1, *prior
        )
        log_posterior = gaussian_log_density(z2, top_mean, top_log_variance) + gaussian_log_density(
            z1, mean, log_variance
        )

        def per_sample(values):
            return ops.reshape(values, (samples, batch))

        return {
            "log_likelihood": -per_sample(nll),
            "log_prior": per_sample(log_prior),
            "log_posterior": per_sample(log_posterior),
        }

    def call(self, images, training: bool = False):
        mean, log_variance = self.encode_distribution(images, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        return self.decode(z, training=training)

    # -- the ELBO ----------------------------------------------------------------

    def kl_dimensions(self, images, labels=None, training: bool = False):
        """Reconstruction per image and the KL of every dimension of both layers [batch, D2+D1]."""
        bottom, top = self.bottom_up(images, labels, training=training)
        z2 = self.sampler(*top)
        (mean, log_variance), prior = self.z1_posterior(bottom, z2, training=training)
        z1 = self.sampler(mean, log_variance)
        logits = self.decode_logits(z1, labels, training=training)
        kl_dims = keras.ops.concatenate(
            [kl_per_dimension(*top), gaussian_kl_per_dimension(mean, log_variance, *prior)], axis=-1
        )
        return self.reconstruction_terms(images, logits), kl_dims

    def elbo_terms(self, images, labels=None, training: bool = False):
        reconstruction, kl_dims = self.kl_dimensions(images, labels, training=training)
        return reconstruction, keras.ops.sum(kl_dims, axis=-1)

    def train_step(self, data):
        schedule = VaeOptions(
            kl_warmup_epochs=self.options.kl_warmup_epochs, free_bits=self.options.free_bits
        )
        return self.scheduled_step(data, schedule)


@strategies.register
@with_options(HvaeOptions)
def hvae(
    config: ModelConfig, options: HvaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Hierarchical (ladder) VAE, two stochastic layers (Sønderby et al. 2016)."""
    return build_vae(
        HierarchicalVAE,
        config,
        options,
        seed,
        lambda: top_networks(config, options, inputs=2 * config.latent_dim),
        steps_per_epoch=context.steps_per_epoch,
    )
