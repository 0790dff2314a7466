"""``classifier``: the report's task-driven VAE: a digit classifier shapes what the VAE learns.

Two modes (``task_mode``):

* ``ce`` (the simpler variant): encoder and decoder minimise the VAE loss
  reconstruction + beta * KL + task_weight * CE(C(x~), y).
* ``features``: with F(x) the classifier's hidden layers and
  L_feat = 0.5 * ||F(x) - F(x~)||^2 summed over all of them, the encoder minimises
  beta * KL + L_feat and the decoder L_feat + task_weight * CE(C(x~), y).

The classifier C either trains jointly, on CE(C(x), y) for real images plus
CE(C(x~), y) for the reconstructions whose per-pixel squared error is below
``recon_threshold`` (good enough to teach it), or is loaded pre-trained and frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from mnist_vae.config import ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError, UsageError, first_line
from mnist_vae.models import VAE, TrainingContext, build_vae, with_options
from mnist_vae.models.losses import half_squared_distance, kl_to_standard_normal
from mnist_vae.models.steps import clone_optimizer, replica_scaled, unpack
from mnist_vae.registry import classifiers, strategies


@dataclass(frozen=True)
class TaskOptions(StrategyOptions):
    """Settings of the classifier task-driven loss (the report's proposal)."""

    classifier: str = option("lenet", "Registered classifier.")
    classifier_weights: str | None = option(
        None,
        "Pre-trained weights (.weights.h5, or a .keras classifier such as a run's "
        "classifier.keras); the classifier is then frozen. Default: train it jointly.",
        metavar="FILE",
    )
    task_mode: str = option(
        "ce",
        "ce: VAE loss + weight * CE on reconstructions; features: reconstruction measured "
        "in the classifier's hidden layers.",
        choices=("ce", "features"),
    )
    task_weight: float = option(
        1.0, "Weight of the classifier's cross-entropy on reconstructions.", minimum=0
    )
    recon_threshold: float = option(
        0.02,
        "Joint classifier only: it also learns from reconstructions of per-pixel MSE below this.",
        minimum=0,
    )

    def validate(self) -> None:
        classifiers.check(self.classifier)

    def check_given(self, given, settings) -> None:
        """Also refuse --recon-threshold beside --classifier-weights: a frozen classifier
        learns from nothing, so the threshold would be recorded and do nothing."""
        super().check_given(given, settings)
        if "recon_threshold" in given and self.classifier_weights is not None:
            raise ConfigError(
                "--recon-threshold takes effect only with a jointly trained classifier; "
                "drop it, or drop --classifier-weights"
            )

    def check_files(self) -> None:
        """The weights file, when a model is first configured (``model_config``).

        Not in ``validate``: a saved run keeps the path, and must load after the
        file has moved.
        """
        if self.classifier_weights is not None:
            weights_file(self.classifier_weights)


# What --classifier-weights reads: Keras's weights files and saved models.
WEIGHTS_SUFFIXES = (".keras", ".weights.h5", ".h5")


def weights_file(path: str) -> Path:
    """``--classifier-weights PATH`` as a file Keras can read weights from, or a UsageError."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError(f"--classifier-weights {path}: no such file")
    if not file.name.endswith(WEIGHTS_SUFFIXES):
        raise UsageError(f"--classifier-weights {path}: not a .keras or .weights.h5 file")
    return file


def cross_entropy(logits, labels):
    """Per-example softmax cross-entropy with integer labels."""
    return keras.ops.sparse_categorical_crossentropy(
        keras.ops.cast(keras.ops.reshape(labels, (-1,)), "int32"), logits, from_logits=True
    )


def load_classifier_weights(network: keras.Model, path: str) -> None:
    """Weights from a ``.weights.h5`` file or a saved ``.keras`` classifier (e.g. a run's)."""
    file = weights_file(path)
    try:
        if file.name.endswith(".keras"):
            network.set_weights(keras.saving.load_model(file, compile=False).get_weights())
        else:
            network.load_weights(file)
    except Exception as exc:
        raise UsageError(
            f"--classifier-weights {path}: does not fit classifier {network.name!r} "
            f"({first_line(exc)})"
        ) from None


@keras.saving.register_keras_serializable(package="mnist_vae")
class TaskVAE(VAE):
    """A VAE trained with a digit classifier's loss on its reconstructions."""

    options_class = TaskOptions
    network_keys = ("encoder", "decoder", "classifier")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        classifier: keras.Model,
        latent_dim: int,
        options: TaskOptions | dict | None = None,
        **kwargs,
    ) -> None:
        kwargs.pop("train_classifier", None)  # runs saved by 0.3 recorded it; options decide
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.classifier = classifier
        # A pre-trained classifier (given weights) stays frozen; otherwise it learns too.
        self.train_classifier = self.options.classifier_weights is None
        self.classifier.trainable = self.train_classifier
        names = (
            "task",
            "feature_distance",
            "classifier_loss",
            "classifier_accuracy",
            "reconstruction_accuracy",
            "accepted",
        )
        self.task_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.classifier_optimizer = None

    @property
    def metrics(self) -> list:
        return [*super().metrics, *self.task_trackers.values()]

    def build_extra_optimizers(self) -> None:
        """The compiled optimizer trains the VAE; a joint classifier gets a clone of it."""
        if self.train_classifier:
            self.classifier_optimizer = clone_optimizer(self.optimizer)
            self.classifier_optimizer.build(self.classifier.trainable_variables)

    def extra_networks(self) -> dict[str, keras.Model]:
        return {"classifier": self.classifier}

    def losses_for(self, images, labels, training: bool = True) -> dict:
        if labels is None:
            raise ValueError("the classifier strategy needs digit labels")
        mean, log_variance, _, logits = self.elbo_parts(images, training=training)
        reconstructions = keras.ops.sigmoid(logits)
        real = self.classifier(images, training=training)
        rebuilt = self.classifier(reconstructions, training=training)
        kl = kl_to_standard_normal(mean, log_variance)
        pixel = self.reconstruction_terms(images, logits)
        task = cross_entropy(rebuilt[-1], labels)
        features = sum(
            half_squared_distance(r, f) for r, f in zip(real[:-1], rebuilt[:-1], strict=True)
        )
        squared_error = keras.ops.mean(
            keras.ops.reshape(
                keras.ops.square(images - reconstructions), (keras.ops.shape(images)[0], -1)
            ),
            axis=1,
        )
        accepted = keras.ops.cast(squared_error < self.options.recon_threshold, "float32")
        # The classifier learns from reconstructions as given: no gradient into the VAE.
        rebuilt_for_classifier = self.classifier(
            keras.ops.stop_gradient(reconstructions), training=training
        )
        classifier_loss = keras.ops.mean(cross_entropy(real[-1], labels)) + keras.ops.mean(
            accepted * cross_entropy(rebuilt_for_classifier[-1], labels)
        )
        kl_mean = self.beta * keras.ops.mean(kl)
        task_mean = self.options.task_weight * keras.ops.mean(task)
        if self.options.task_mode == "features":
            encoder_loss = kl_mean + keras.ops.mean(features)
            decoder_loss = keras.ops.mean(features) + task_mean
        else:
            encoder_loss = decoder_loss = keras.ops.mean(pixel) + kl_mean + task_mean
        return {
            "kl": kl,
            "pixel": pixel,
            "task": task,
            "features": features,
            "accepted": accepted,
            "encoder_loss": encoder_loss,
            "decoder_loss": decoder_loss,
            "classifier_loss": classifier_loss,
            "classifier_correct": _correct(real[-1], labels),
            "reconstruction_correct": _correct(rebuilt[-1], labels),
        }

    def train_step(self, data):
        images, labels = unpack(data)
        with tf.GradientTape(persistent=True) as tape:
            terms = self.losses_for(images, labels, training=True)
            encoder_loss, decoder_loss, classifier_loss = (
                replica_scaled(terms[name])
                for name in ("encoder_loss", "decoder_loss", "classifier_loss")
            )
        grads = tape.gradient(encoder_loss, self.encoder.trainable_variables)
        grads += tape.gradient(decoder_loss, self.decoder.trainable_variables)
        if self.train_classifier:
            classifier_grads = tape.gradient(classifier_loss, self.classifier.trainable_variables)
        del tape
        variables = [*self.encoder.trainable_variables, *self.decoder.trainable_variables]
        self.optimizer.apply(grads, variables)
        if self.train_classifier:
            self.classifier_optimizer.apply(classifier_grads, self.classifier.trainable_variables)
        self.update_elbo_metrics(terms["pixel"], terms["kl"])
        values = {
            "task": terms["task"],
            "feature_distance": terms["features"],
            "classifier_loss": terms["classifier_loss"],
            "classifier_accuracy": terms["classifier_correct"],
            "reconstruction_accuracy": terms["reconstruction_correct"],
            "accepted": terms["accepted"],
        }
        for name, value in values.items():
            self.task_trackers[name].update_state(value)
        return self.metric_results()


def _correct(logits, labels):
    predicted = keras.ops.argmax(logits, axis=-1)
    return keras.ops.cast(
        keras.ops.equal(
            predicted, keras.ops.cast(keras.ops.reshape(labels, (-1,)), predicted.dtype)
        ),
        "float32",
    )


@strategies.register
@with_options(TaskOptions)
def classifier(
    config: ModelConfig, options: TaskOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Task-driven VAE: a classifier's loss on reconstructions shapes the VAE."""

    def task_classifier():
        network = classifiers.get(options.classifier)()
        if options.classifier_weights is not None:
            load_classifier_weights(network, options.classifier_weights)
        return (network,)

    return build_vae(TaskVAE, config, options, seed, task_classifier)
