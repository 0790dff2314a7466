"""``vaegan``: VAE-GAN, Larsen, Sønderby, Larochelle & Winther (2016), "Autoencoding beyond
pixels using a learned similarity metric".

With x~ = Dec(z), z ~ q(z|x), and x_p = Dec(z_p), z_p ~ N(0, I):

* L_prior = KL(q(z|x) || N(0, I));
* L_llike = 0.5 * ||Dis_l(x) - Dis_l(x~)||^2 / feature_variance, a Gaussian
  log-likelihood on the discriminator's l-th hidden layer (constant dropped); the paper
  uses identity covariance, but the features' scale is the critic's choice (ours is
  spectrally normalised, so its features are small), and ``feature_variance`` sets
  how much the features weigh against the KL;
* L_GAN = BCE(Dis(x), real) + BCE(Dis(x~), fake) + BCE(Dis(x_p), fake).

Three optimizers, one forward pass: the encoder minimises beta * L_prior + L_llike
(no GAN gradient reaches it), the decoder minimises gamma * L_llike - L_GAN (the
GAN part in its non-saturating form, BCE(Dis(x~), real) + BCE(Dis(x_p), real)),
and the discriminator minimises L_GAN. With ``balance`` the authors' equilibrium
rule gates the two players: the discriminator skips its update when either of its
real/fake losses is below ``equilibrium - margin``, the decoder skips its GAN
update when either is above ``equilibrium + margin``, and both train if both
would skip. During a ``pixel_warmup`` the encoder and decoder train as a plain VAE
(pixel likelihood, no GAN) while the discriminator learns.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError
from mnist_vae.models import VAE, TrainingContext, build_vae, with_options
from mnist_vae.models.losses import (
    binary_cross_entropy_with_logits,
    half_squared_distance,
    kl_to_standard_normal,
)
from mnist_vae.models.steps import clone_optimizer, cross_replica_mean, replica_scaled, unpack
from mnist_vae.registry import discriminators, strategies


@dataclass(frozen=True)
class VaeGanOptions(StrategyOptions):
    """VAE-GAN settings: the gating follows the authors' code; the rest was tuned on
    net1 at latent 2 (docs/strategies.md records what was tried)."""

    discriminator: str = option("dcgan", "Registered discriminator.")
    feature_layer: int = option(
        1, "Discriminator hidden layer whose features measure reconstruction.", minimum=1
    )
    feature_variance: float = option(
        0.02,
        "Variance of the Gaussian feature likelihood: smaller weighs the feature "
        "reconstruction more against the KL.",
        minimum=0,
        exclusive_minimum=True,
    )
    gamma: float = option(
        0.1, "Weight of the feature reconstruction in the decoder's loss.", minimum=0
    )
    balance: bool = option(True, "Equilibrium gating of decoder and discriminator updates.")
    equilibrium: float = option(
        0.68, "Discriminator BCE the gating aims for.", minimum=0, needs=("balance", True)
    )
    margin: float = option(
        0.35, "Gating margin around the equilibrium.", minimum=0, needs=("balance", True)
    )
    pixel_warmup: int = option(3, "Epochs of plain pixel-likelihood VAE training first.", minimum=0)

    def validate(self) -> None:
        discriminators.check(self.discriminator)


def _bce(logits, target: float):
    """Per-example BCE of logits against a constant 0/1 target."""
    return binary_cross_entropy_with_logits(keras.ops.reshape(logits, (-1,)), target)


class PixelWarmup(keras.callbacks.Callback):
    """Sets a model's ``pixel_phase`` to 1 for the first ``epochs`` epochs, then 0."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.model.pixel_phase.assign(1.0 if epoch < self.epochs else 0.0)


@keras.saving.register_keras_serializable(package="mnist_vae")
class VAEGAN(VAE):
    """A VAE whose reconstruction is judged in a discriminator's feature space."""

    options_class = VaeGanOptions
    network_keys = ("encoder", "decoder", "discriminator")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        options: VaeGanOptions | dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.discriminator = discriminator
        self.pixel_phase = keras.Variable(0.0, trainable=False, name="pixel_phase")
        self.prior_seed = keras.random.SeedGenerator(None if self.seed is None else self.seed + 1)
        names = (
            "feature_reconstruction",
            "decoder_gan",
            "discriminator",
            "real_accuracy",
            "fake_accuracy",
            "discriminator_updates",
            "decoder_updates",
        )
        self.gan_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.decoder_optimizer = None
        self.discriminator_optimizer = None

    @property
    def metrics(self) -> list:
        return [*super().metrics, *self.gan_trackers.values()]

    def optimized_variables(self) -> list:
        return list(self.encoder.trainable_variables)

    def build_extra_optimizers(self) -> None:
        """The compiled optimizer trains the encoder; decoder and discriminator get clones."""
        self.decoder_optimizer = clone_optimizer(self.optimizer)
        self.discriminator_optimizer = clone_optimizer(self.optimizer)
        self.decoder_optimizer.build(self.decoder.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def extra_networks(self) -> dict[str, keras.Model]:
        return {"discriminator": self.discriminator}

    def check_distributable(self) -> None:
        # Skipping an update is a tf.cond around optimizer.apply; under tf.distribute
        # the update synchronises replicas, which TensorFlow forbids inside a cond.
        if self.options.balance:
            raise ConfigError(
                "vaegan's balancing skips updates step by step, which tf.distribute cannot "
                "do; train it with --no-balance when distributing"
            )

    def training_callbacks(self) -> list:
        return [PixelWarmup(self.options.pixel_warmup)] if self.options.pixel_warmup else []

    def losses_for(self, images, training: bool = True) -> dict:
        """Every loss of one step, per image where it is per image (see module docstring)."""
        mean, log_variance, _, logits = self.elbo_parts(images, training=training)
        reconstructions = keras.ops.sigmoid(logits)
        z_prior = keras.random.normal(keras.ops.shape(mean), seed=self.prior_seed)
        prior_images = self.decode(z_prior, training=training)
        # One pass over the three kinds of image: cheaper, and any batch statistics
        # (normalisation layers) are shared rather than differing per kind.
        outputs = self.discriminator(
            keras.ops.concatenate([images, reconstructions, prior_images], axis=0),
            training=training,
        )
        real, rebuilt, fake = zip(
            *(keras.ops.split(out, 3, axis=0) for out in outputs), strict=True
        )
        options = self.options
        layer = options.feature_layer - 1
        terms = {
            "kl": kl_to_standard_normal(mean, log_variance),
            "pixel": self.reconstruction_terms(images, logits),
            "llike": half_squared_distance(real[layer], rebuilt[layer]) / options.feature_variance,
            "bce_real": _bce(real[-1], 1.0),
            "bce_fake": 0.5 * (_bce(rebuilt[-1], 0.0) + _bce(fake[-1], 0.0)),
            "fooled": _bce(rebuilt[-1], 1.0) + _bce(fake[-1], 1.0),
            "real_logit": real[-1],
            "fake_logits": keras.ops.concatenate([rebuilt[-1], fake[-1]], axis=0),
        }
        pixel = self.pixel_phase
        similarity = (1.0 - pixel) * keras.ops.mean(terms["llike"]) + pixel * keras.ops.mean(
            terms["pixel"]
        )
        terms["encoder_loss"] = self.beta * keras.ops.mean(terms["kl"]) + similarity
        terms["decoder_loss"] = (1.0 - pixel) * (
            self.options.gamma * keras.ops.mean(terms["llike"]) + keras.ops.mean(terms["fooled"])
        ) + pixel * keras.ops.mean(terms["pixel"])
        terms["discriminator_loss"] = keras.ops.mean(terms["bce_real"]) + 2.0 * keras.ops.mean(
            terms["bce_fake"]
        )
        return terms

    def update_flags(self, bce_real, bce_fake):
        """(train discriminator, train decoder) under the equilibrium rule."""
        if not self.options.balance:
            return True, True  # plain Python: the updates need no tf.cond
        low = self.options.equilibrium - self.options.margin
        high = self.options.equilibrium + self.options.margin
        train_discriminator = tf.logical_not(tf.logical_or(bce_real < low, bce_fake < low))
        train_decoder = tf.logical_not(tf.logical_or(bce_real > high, bce_fake > high))
        neither = tf.logical_not(tf.logical_or(train_discriminator, train_decoder))
        warming_up = self.pixel_phase > 0.5
        return tf.logical_or(train_discriminator, neither), tf.logical_or(
            tf.logical_or(train_decoder, neither), warming_up
        )

    def train_step(self, data):
        images, _ = unpack(data)
        networks = (self.encoder, self.decoder, self.discriminator)
        with tf.GradientTape(persistent=True) as tape:
            terms = self.losses_for(images, training=True)
            objectives = [
                replica_scaled(terms[name])
                for name in ("encoder_loss", "decoder_loss", "discriminator_loss")
            ]
        encoder_grads, decoder_grads, discriminator_grads = (
            tape.gradient(objective, net.trainable_variables)
            for objective, net in zip(objectives, networks, strict=True)
        )
        del tape
        # Every replica must take the same gating decision (the updates synchronise).
        bce_real = cross_replica_mean(keras.ops.mean(terms["bce_real"]))
        bce_fake = cross_replica_mean(keras.ops.mean(terms["bce_fake"]))
        train_discriminator, train_decoder = self.update_flags(bce_real, bce_fake)
        self.optimizer.apply(encoder_grads, self.encoder.trainable_variables)
        _apply_if(
            train_decoder, self.decoder_optimizer, decoder_grads, self.decoder.trainable_variables
        )
        _apply_if(
            train_discriminator,
            self.discriminator_optimizer,
            discriminator_grads,
            self.discriminator.trainable_variables,
        )
        self.update_elbo_metrics(terms["pixel"], terms["kl"])
        values = {
            "feature_reconstruction": terms["llike"],
            "decoder_gan": terms["fooled"],
            "discriminator": terms["discriminator_loss"],
            "real_accuracy": keras.ops.cast(terms["real_logit"] > 0, "float32"),
            "fake_accuracy": keras.ops.cast(terms["fake_logits"] < 0, "float32"),
            "discriminator_updates": keras.ops.cast(train_discriminator, "float32"),
            "decoder_updates": keras.ops.cast(train_decoder, "float32"),
        }
        for name, value in values.items():
            self.gan_trackers[name].update_state(value)
        return self.metric_results()


def _apply_if(flag, optimizer, gradients, variables) -> None:
    """Apply an update only when ``flag`` holds: skipping keeps Adam's moments untouched."""
    if flag is True:
        optimizer.apply(gradients, variables)
        return

    def update():
        optimizer.apply(gradients, variables)
        return tf.constant(True)

    tf.cond(flag, update, lambda: tf.constant(False))


@strategies.register
@with_options(VaeGanOptions)
def vaegan(
    config: ModelConfig, options: VaeGanOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """VAE-GAN (Larsen et al. 2016): reconstruction measured in a discriminator's features."""

    def critic():
        discriminator = discriminators.get(options.discriminator)()
        hidden = len(discriminator.outputs) - 1
        if options.feature_layer > hidden:
            raise ConfigError(
                f"--feature-layer {options.feature_layer} is past discriminator "
                f"{options.discriminator!r}'s {hidden} hidden layers"
            )
        return (discriminator,)

    return build_vae(VAEGAN, config, options, seed, critic)
