"""``m2``: the semi-supervised VAE M2 of Kingma, Rezende, Mohamed & Welling (2014).

Generative model p(y) p(z) p(x | z, y), with p(y) uniform over the classes and
p(z) = N(0, I); inference q(y | x) q(z | x, y). The networks for z are the conditional
VAE's (``CVAE``: the one-hot label as extra encoder channels and after z). With
L(x, y) = E_q(z|x,y)[-log p(x|y,z) - log p(y) - log p(z) + log q(z|x,y)] (so -L is the
bound on log p(x, y)) and U(x) = sum_y q(y|x) L(x, y) - H(q(y|x)) (-U the bound on
log p(x)), a labelled image costs L(x, y) + alpha * (-log q(y|x)) and an unlabelled one
U(x) (the paper's equations 6-9). Unlabelled images carry the label -1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_vae.config import IMAGE_SHAPE, NUM_CLASSES, ModelConfig, StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError
from mnist_vae.models import TrainingContext, build_vae, with_options
from mnist_vae.models.losses import LOG_TWO_PI, standard_normal_log_density
from mnist_vae.models.steps import cross_replica_mean, replica_scaled, unpack
from mnist_vae.registry import encoders, strategies
from mnist_vae.zoo.strategies.cvae import CVAE

LOG_CLASSES = math.log(NUM_CLASSES)  # -log p(y) under the uniform p(y)
CLASSIFY_BATCH = 2000


@dataclass(frozen=True)
class M2Options(StrategyOptions):
    """Settings of the semi-supervised M2: the classification weight and the labelled rows."""

    alpha: float = option(
        0.1,
        "Weight of the classifier's cross-entropy -log q(y|x), averaged over a batch's "
        "labelled images, against the bound averaged over all its images: 0.1 is the "
        "paper's alpha = 0.1 * N on its sum over the N training images.",
        minimum=0,
    )
    labelled_per_batch: int = option(
        100,
        "Labelled images added to every training batch, drawn with "
        "replacement from the labelled set (seeded by seed, epoch and batch).",
        minimum=1,
        needs="labels",
    )


def classifier_network(config: ModelConfig) -> keras.Model:
    """q(y | x): a fresh copy of the run's encoder network whose outputs are class logits.

    Why the encoder: q(y|x) reads images as q(z|x, y) does, and the architecture is the
    run's choice of image network (the `mlp` architecture gives the paper's MLP
    classifier, net1 a small CNN), so ``--arch``/``--encoder`` choose both; any
    registered encoder works, plugins' included. An encoder maps an image to
    2 * latent_dim values; built for latent_dim = NUM_CLASSES / 2 its outputs are the
    NUM_CLASSES logits, with weights of its own.
    """
    network = encoders.get(config.encoder)(NUM_CLASSES // 2, input_shape=IMAGE_SHAPE)
    if tuple(network.output_shape)[1:] != (NUM_CLASSES,):
        raise ConfigError(
            f"encoder {config.encoder!r} built for latent_dim "
            f"{NUM_CLASSES // 2} outputs {tuple(network.output_shape)[1:]}, not the "
            f"{NUM_CLASSES} class logits m2's classifier needs"
        )
    network.name = f"{config.encoder}_classifier"
    return network


@keras.saving.register_keras_serializable(package="mnist_vae")
class M2(CVAE):
    """Semi-supervised VAE: a classifier q(y|x) beside the conditional VAE's q(z|x,y), p(x|z,y).

    Every step encodes and decodes an unlabelled image (-1) under all ten labels, for U(x)'s
    expectation under q(y|x), and a labelled one (label >= 0) under its own label only, for
    L(x, y) (``bound_rows``). The encoder's image part is computed once per image and the
    label's added after it where the encoder allows (``CVAE.encode_rows``).

    Metrics: ``loss`` = U(x), the negative ELBO of the image alone (labels unused), split as
    ``reconstruction`` = E_q(y|x)[-log p(x|z,y)] and ``kl`` = E_q(y|x)[KL(q(z|x,y) || p(z))]
    + KL(q(y|x) || p(y)), on every test image. In training every row reports the bound
    it is trained on: U(x) on unlabelled rows and L(x, y) (its KL part including -log p(y))
    on labelled ones, whose other labels are not computed. Training adds, over the
    labelled rows of its batches, ``labelled_bound`` (L(x, y), a bound on -log p(x, y)),
    ``classification_loss`` (-log q(y|x)) and ``labelled_accuracy``; a run's test
    metrics add ``classifier_accuracy`` and ``classifier_error`` (``extra_test_metrics``).
    """

    semi_supervised = True
    options_class = M2Options
    network_keys = ("encoder", "decoder", "classifier")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        classifier: keras.Model,
        latent_dim: int,
        options: M2Options | dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(encoder, decoder, latent_dim, options=options, **kwargs)
        self.classifier = classifier
        names = ("labelled_bound", "classification_loss", "labelled_accuracy")
        self.labelled_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        # Per epoch on the watched test images: the error curve of the classifier.
        self.test_error_tracker = keras.metrics.Mean(name="classifier_error")

    @property
    def metrics(self) -> list:
        return [*self.training_metrics(), self.test_error_tracker]

    def training_metrics(self) -> list:
        """The trackers a training step reports (the test error is the test step's)."""
        return [*super().metrics, *self.labelled_trackers.values()]

    @property
    def labelled_per_batch(self) -> int:
        """Labelled rows the training pipeline adds to every batch under ``--labels``."""
        return self.options.labelled_per_batch

    def optimized_variables(self) -> list:
        return [*super().optimized_variables(), *self.classifier.trainable_variables]

    def extra_networks(self) -> dict[str, keras.Model]:
        return {"classifier": self.classifier}

    # -- the classifier ---------------------------------------------------------------

    def class_log_probabilities(self, images, training: bool = False):
        """log q(y | x), [batch, NUM_CLASSES]."""
        logits = keras.ops.cast(self.classifier(images, training=training), "float32")
        return keras.ops.log_softmax(logits, axis=-1)

    def classify(self, images):
        """The most probable class under q(y | x), int32 [batch]."""
        logits = self.classifier(images, training=False)
        return keras.ops.cast(keras.ops.argmax(logits, axis=-1), "int32")

    def extra_test_metrics(self, images, labels) -> dict[str, float]:
        """The classifier on the test set: accuracy and error of argmax q(y|x)."""
        predicted = np.concatenate(
            [
                keras.ops.convert_to_numpy(self.classify(images[start : start + CLASSIFY_BATCH]))
                for start in range(0, len(images), CLASSIFY_BATCH)
            ]
        )
        accuracy = float(np.mean(predicted == np.asarray(labels).reshape(-1)))
        return {"classifier_accuracy": accuracy, "classifier_error": 1.0 - accuracy}

    # -- without a label, the classifier's guess ---------------------------------------

    def encode_distribution(self, images, labels=None, training: bool = False):
        """(mean, log_variance) of q(z | x, y); without labels y is argmax q(y | x)."""
        if labels is None:
            labels = self.classify(images)
        return super().encode_distribution(images, labels, training=training)

    def reconstruct(self, images, labels=None):
        """Decode the posterior mean under the label given, else the classifier's guess."""
        if labels is None:
            labels = self.classify(images)
        return super().reconstruct(images, labels)

    # -- the bounds ----------------------------------------------------------------------

    def bound_rows(self, labels):
        """The (image, label) pairs the bounds need, as two int32 vectors ``rows``, ``classes``.

        An unlabelled image (-1) needs L(x, y) under every label (U(x) sums over them),
        a labelled one only under its own. Image-major, in batch order: image b's rows
        come before image b + 1's, an unlabelled image's in label order 0..9.
        """
        ops = keras.ops
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        labelled = labels >= 0
        counts = ops.where(labelled, 1, NUM_CLASSES)
        rows = ops.repeat(ops.arange(ops.shape(labels)[0], dtype="int32"), counts, axis=0)
        starts = ops.cumsum(counts) - counts
        position = ops.arange(ops.shape(rows)[0], dtype="int32") - ops.take(starts, rows)
        classes = ops.where(ops.take(labelled, rows), ops.take(labels, rows), position)
        return rows, ops.cast(classes, "int32")

    def row_terms(self, images, rows, classes, training: bool = False):
        """-log p(x | z, y) and KL(q(z|x,y) || p(z)) per row (x = images[rows], y = classes).

        One reparameterised draw of z per row. The encoder's image part is computed once
        per image, whatever its number of rows (``encode_rows``).
        """
        mean, log_variance = self.encode_rows(images, rows, classes, training=training)
        z0 = self.sampler(mean, log_variance)
        z, log_det = self.transform_posterior_draws(z0, mean, log_variance)
        logits = self.decode_logits(z, classes, training=training)
        kl = self.kl_terms(mean, log_variance, z0, z, log_det)
        nll = self.reconstruction_terms(keras.ops.take(images, rows, axis=0), logits)
        return nll, kl

    def bound_terms(self, images, labels=None, training: bool = False) -> dict:
        """Everything a step needs, per image: the two bounds, their parts, the classifier's.

        L(x, y) is computed for the rows of ``bound_rows`` only: every label of an
        unlabelled image, the given label of a labelled one. ``row_weights`` is q(y|x) on
        an unlabelled image's rows and 1 on a labelled image's row, so the per-image sums
        ``expected_reconstruction`` and ``expected_kl`` are E_q(y|x)[...] for an unlabelled
        image and the given label's term for a labelled one. ``probabilities`` q(y|x);
        ``class_kl`` KL(q(y|x) || p(y)) = -H(q(y|x)) + log NUM_CLASSES; ``labelled`` 1.0
        where a label is given (>= 0; -1 is none). U(x) = ``unlabelled_reconstruction`` +
        ``unlabelled_kl`` (``class_kl`` in the KL part) on unlabelled images, 0 on labelled
        ones; L(x, y) = ``labelled_bound`` on labelled images (0 elsewhere), with
        ``cross_entropy`` -log q(y|x) and ``correct`` there (0 where no label is given).
        """
        ops = keras.ops
        batch = ops.shape(images)[0]
        if labels is None:
            labels = -ops.ones((batch,), dtype="int32")
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        rows, classes = self.bound_rows(labels)
        reconstruction, kl = self.row_terms(images, rows, classes, training=training)
        log_q = self.class_log_probabilities(images, training=training)
        q = ops.exp(log_q)
        class_kl = ops.sum(q * log_q, axis=-1) + LOG_CLASSES
        labelled = ops.cast(labels >= 0, "float32")
        row_q = ops.take(ops.reshape(q, (-1,)), rows * NUM_CLASSES + classes)
        weights = ops.where(ops.take(labels, rows) >= 0, 1.0, row_q)

        def per_image(values):
            return ops.segment_sum(weights * values, rows, num_segments=batch)

        expected_reconstruction, expected_kl = per_image(reconstruction), per_image(kl)
        given = ops.one_hot(labels, NUM_CLASSES)  # all zeros for -1
        predicted = ops.cast(ops.argmax(log_q, axis=-1), "int32")
        return {
            "rows": rows,
            "classes": classes,
            "row_reconstruction": reconstruction,
            "row_kl": kl,
            "row_weights": weights,
            "expected_reconstruction": expected_reconstruction,
            "expected_kl": expected_kl,
            "probabilities": q,
            "class_kl": class_kl,
            "labelled": labelled,
            "given": given,
            "unlabelled_reconstruction": (1.0 - labelled) * expected_reconstruction,
            "unlabelled_kl": (1.0 - labelled) * (expected_kl + class_kl),
            "labelled_bound": labelled * (expected_reconstruction + expected_kl + LOG_CLASSES),
            "cross_entropy": -ops.sum(given * log_q, axis=-1),
            "correct": ops.cast(ops.equal(predicted, labels), "float32"),
        }

    def objective(self, terms):
        """The loss minimised: mean over the batch of L(x, y) for labelled images and U(x)
        for unlabelled ones, plus alpha times the labelled images' mean -log q(y|x).

        The KL of z is weighted by ``kl_weight()`` (beta) in both bounds. Under
        tf.distribute the labelled mean is over the whole global batch (a cross-replica
        count), so every replica weighs the classification as one device would.
        """
        ops = keras.ops
        labelled = terms["labelled"]
        per_image = (
            terms["expected_reconstruction"]
            + self.kl_weight() * terms["expected_kl"]
            + labelled * LOG_CLASSES
            + (1.0 - labelled) * terms["class_kl"]
        )
        bound = ops.mean(per_image)
        labelled_count = cross_replica_mean(ops.sum(labelled))
        classification = ops.divide_no_nan(ops.sum(terms["cross_entropy"]), labelled_count)
        return bound + self.options.alpha * classification

    def update_m2_metrics(self, terms) -> None:
        """Each row's own bound (U(x) unlabelled, L(x, y) labelled), and the labelled metrics."""
        labelled = terms["labelled"]
        reconstruction = terms["expected_reconstruction"]
        kl = terms["expected_kl"] + labelled * LOG_CLASSES + (1.0 - labelled) * terms["class_kl"]
        self.update_elbo_metrics(reconstruction, kl)
        for name, key in (
            ("labelled_bound", "labelled_bound"),
            ("classification_loss", "cross_entropy"),
            ("labelled_accuracy", "correct"),
        ):
            self.labelled_trackers[name].update_state(terms[key], sample_weight=labelled)

    def train_step(self, data):
        images, labels = unpack(data)
        if labels is None:
            raise ValueError("m2 needs a label per image: the class, or -1 for unlabelled")
        with tf.GradientTape() as tape:
            terms = self.bound_terms(images, labels, training=True)
            objective = replica_scaled(self.objective(terms))
        self.minimise(tape, objective)
        self.update_m2_metrics(terms)
        return self.metric_results(self.training_metrics())

    def test_step(self, data):
        """The negative ELBO of each image alone, U(x), which does not read the labels;
        with labels, also the classifier's error (argmax q(y|x), as ``classify``)."""
        images, labels = unpack(data)
        terms = self.bound_terms(images, training=False)
        self.update_elbo_metrics(terms["unlabelled_reconstruction"], terms["unlabelled_kl"])
        reported = [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]
        if labels is not None:
            wrong = keras.ops.not_equal(self.classify(images), keras.ops.cast(labels, "int32"))
            self.test_error_tracker.update_state(keras.ops.cast(wrong, "float32"))
            reported.append(self.test_error_tracker)
        return self.metric_results(reported)

    def log_density_terms(self, images, labels, samples: int, seed_generator) -> dict:
        """Importance terms of (y_k, z_k) ~ q(y|x) q(z|x, y_k), whatever ``labels`` says.

        ``log_prior`` is log p(z_k) + log p(y_k), ``log_posterior`` log q(z_k|x, y_k) +
        log q(y_k|x): the IWAE bound built on them (``mnist-vae evaluate``, ``benchmark
        nll``) bounds -log p(x), the same quantity as the test ``loss``, even though the
        callers hand a conditional model the true labels.
        """
        ops = keras.ops
        batch = ops.shape(images)[0]
        log_q = self.class_log_probabilities(images)
        drawn = keras.random.categorical(log_q, samples, dtype="int32", seed=seed_generator)
        flat_y = ops.reshape(ops.transpose(drawn), (-1,))  # sample-major, like the tiling
        tiled = ops.tile(images, (samples, 1, 1, 1))
        mean, log_variance = self.encode_distribution(tiled, flat_y)
        noise = keras.random.normal(ops.shape(mean), seed=seed_generator)
        z = mean + ops.exp(0.5 * log_variance) * noise
        nll = self.reconstruction_terms(tiled, self.decode_logits(z, flat_y))
        log_q_z = -0.5 * ops.sum(ops.square(noise) + log_variance + LOG_TWO_PI, axis=-1)
        log_q_y = ops.take_along_axis(ops.tile(log_q, (samples, 1)), flat_y[:, None], axis=1)

        def per_sample(values):
            return ops.reshape(values, (samples, batch))

        return {
            "log_likelihood": -per_sample(nll),
            "log_prior": per_sample(standard_normal_log_density(z) - LOG_CLASSES),
            "log_posterior": per_sample(log_q_z + log_q_y[:, 0]),
        }


@strategies.register
@with_options(M2Options)
def m2(config: ModelConfig, options: M2Options, context: TrainingContext, seed: int) -> keras.Model:
    """Semi-supervised M2 (Kingma et al. 2014): a classifier q(y|x) with a conditional VAE."""
    return build_vae(
        M2, config, options, seed, lambda: (classifier_network(config),), condition_dim=NUM_CLASSES
    )
