"""``m2``, the semi-supervised VAE of Kingma et al. (2014): its bounds by hand, its
labelled/unlabelled split, the labelled set, the pipeline's labelled rows and the CLI."""

from __future__ import annotations

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.config import NUM_CLASSES, ModelConfig, RunConfig, TrainConfig
from mnist_vae.data import EpochClock, make_dataset, select_labelled_set, select_training_set
from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.training.trainer import training_arrays
from mnist_vae.zoo.strategies.m2 import M2
from tests.helpers import (
    CLI_SCRIPT,
    QUIET,
    data_out,
    invoke,
    kill_when,
    never_called,
    record_bound_rows,
    sampled,
    stop_before_training,
)

# One error line, the last (progress lines such as 'data: ...' may come first).
from tests.helpers import assert_last_line_error as assert_one_line_error

LATENT = 2


# -- a model small enough to follow by hand -------------------------------------------------


def dense_network(
    inputs: keras.KerasTensor, units: int, name: str, rng, scale: float, output_shape=None
) -> keras.Model:
    """inputs -> flatten -> one dense layer (seeded weights) [-> reshape]: affine, by hand."""
    dense = keras.layers.Dense(units)
    outputs = dense(keras.layers.Flatten()(inputs))
    if output_shape is not None:
        outputs = keras.layers.Reshape(output_shape)(outputs)
    network = keras.Model(inputs, outputs, name=name)
    kernel, bias = dense.get_weights()
    dense.set_weights(
        [
            rng.normal(0.0, scale, kernel.shape).astype("float32"),
            rng.normal(0.0, 0.1, bias.shape).astype("float32"),
        ]
    )
    return network


def tiny_m2(alpha: float = 0.1) -> M2:
    """M2 with affine encoder, decoder and classifier of known weights."""
    rng = np.random.default_rng(0)
    encoder = dense_network(
        keras.Input((28, 28, 1 + NUM_CLASSES)), 2 * LATENT, "tiny_encoder", rng, 0.01
    )
    decoder = dense_network(
        keras.Input((LATENT + NUM_CLASSES,)),
        784,
        "tiny_decoder",
        rng,
        0.5,
        output_shape=(28, 28, 1),
    )
    classifier = dense_network(keras.Input((28, 28, 1)), NUM_CLASSES, "tiny_classifier", rng, 0.02)
    return M2(encoder, decoder, classifier, latent_dim=LATENT, seed=0, options={"alpha": alpha})


def affine(network: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    kernel, bias = network.get_weights()
    return kernel.astype(np.float64), bias.astype(np.float64)


def fix_noise(model: M2, monkeypatch, noise: np.ndarray) -> None:
    """The draw of z for image b under label y is mean + sigma * ``noise[b * 10 + y]``,
    whichever (image, label) rows a step computes (``bound_rows``)."""
    fixed = keras.ops.convert_to_tensor(noise.astype("float32"))
    chosen = record_bound_rows(model, monkeypatch)

    def draw(mean, log_variance):
        return mean + keras.ops.exp(0.5 * log_variance) * keras.ops.take(
            fixed, chosen["index"], axis=0
        )

    monkeypatch.setattr(model, "sampler", draw)


def numpy_bounds(model: M2, images: np.ndarray, noise: np.ndarray):
    """L(x, y) for every image and label, and q(y|x), in float64 numpy.

    -L(x, y) = log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y) with log p(x|y,z) at
    the one draw z = mean + sigma * noise and E_q[log p(z) - log q(z|x,y)] = -KL in
    closed form, as the model estimates it.
    """
    (w_enc, b_enc), (w_dec, b_dec), (w_cls, b_cls) = (
        affine(model.encoder),
        affine(model.decoder),
        affine(model.classifier),
    )
    x = images.astype(np.float64)
    bound = np.zeros((len(x), NUM_CLASSES))
    for b in range(len(x)):
        for y in range(NUM_CLASSES):
            planes = np.zeros((28, 28, NUM_CLASSES))
            planes[..., y] = 1.0
            stats = np.concatenate([x[b], planes], axis=-1).reshape(-1) @ w_enc + b_enc
            mean, log_variance = stats[:LATENT], stats[LATENT:]
            z = mean + np.exp(0.5 * log_variance) * noise[b * NUM_CLASSES + y]
            logits = np.concatenate([z, np.eye(NUM_CLASSES)[y]]) @ w_dec + b_dec
            p = 1.0 / (1.0 + np.exp(-logits))
            pixels = x[b].reshape(-1)
            log_likelihood = np.sum(pixels * np.log(p) + (1.0 - pixels) * np.log(1.0 - p))
            kl = 0.5 * np.sum(np.exp(log_variance) + mean**2 - 1.0 - log_variance)
            bound[b, y] = log_likelihood + np.log(1.0 / NUM_CLASSES) - kl  # -L(x, y)
    logits = x.reshape(len(x), -1) @ w_cls + b_cls
    q = np.exp(logits - logits.max(axis=1, keepdims=True))
    return -bound, q / q.sum(axis=1, keepdims=True)


def test_marginalised_bound_equals_the_sum_over_labels_by_hand(two_images, monkeypatch):
    """-U(x) = sum_y q(y|x) (-L(x, y)) + H(q(y|x)), each L(x, y) computed in numpy."""
    model = tiny_m2()
    noise = np.random.default_rng(2).standard_normal((2 * NUM_CLASSES, LATENT))
    fix_noise(model, monkeypatch, noise)
    loss, q = numpy_bounds(model, two_images, noise)  # L(x, y) >= -log p(x, y)
    entropy = -np.sum(q * np.log(q), axis=1)
    expected = np.sum(q * -loss, axis=1) + entropy  # -U(x) <= log p(x)
    assert not np.allclose(q, 1.0 / NUM_CLASSES, atol=1e-2)  # the weighting matters here

    terms = model.bound_terms(two_images, training=False)
    got = -keras.ops.convert_to_numpy(terms["unlabelled_reconstruction"] + terms["unlabelled_kl"])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(terms["probabilities"]), q, atol=1e-6)

    labels = np.array([3, 8], dtype="int32")
    labelled = model.bound_terms(two_images, labels, training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(labelled["labelled_bound"]), loss[[0, 1], labels], rtol=1e-5
    )

    # The objective of a mixed batch: image 0 labelled 3, image 1 unlabelled.
    mixed = model.bound_terms(two_images, np.array([3, -1], dtype="int32"), training=False)
    want = 0.5 * (loss[0, 3] + -expected[1]) + 0.1 * -np.log(q[0, 3])
    assert float(model.objective(mixed)) == pytest.approx(want, rel=1e-5)

    # The test metrics: U(x) per image, whatever the labels say, and the classifier's
    # error on the labels given: argmax q(y|x) against them.
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    results = model.evaluate(two_images, labels, batch_size=2, verbose=0, return_dict=True)
    assert set(results) == {"loss", "reconstruction", "kl", "classifier_error"}
    assert results["loss"] == pytest.approx(float(np.mean(-expected)), rel=1e-5)
    assert results["classifier_error"] == pytest.approx(np.mean(np.argmax(q, axis=1) != labels))
    unlabelled = model.evaluate(two_images, batch_size=2, verbose=0, return_dict=True)
    assert set(unlabelled) == {"loss", "reconstruction", "kl"}


def test_importance_terms_marginalise_the_label_whatever_labels_are_given(two_images):
    """log w = log p(x|z,y) + log p(z) + log p(y) - log q(z|x,y) - log q(y|x), (y, z) drawn
    from q(y|x) q(z|x,y): its mean is -U(x), exactly when p(x|z,y) does not depend on z."""
    model = tiny_m2()
    kernel, bias = model.decoder.get_weights()
    kernel[:LATENT] = 0.0  # p(x|z,y) = p(x|y): the one-draw reconstruction is exact
    model.decoder.set_weights([kernel, bias])
    terms = model.bound_terms(two_images, training=False)
    exact = -keras.ops.convert_to_numpy(terms["unlabelled_reconstruction"] + terms["unlabelled_kl"])

    samples = 4000
    density = model.log_density_terms(two_images, None, samples, keras.random.SeedGenerator(3))
    log_weights = keras.ops.convert_to_numpy(
        density["log_likelihood"] + density["log_prior"] - density["log_posterior"]
    )
    assert log_weights.shape == (samples, 2)
    np.testing.assert_allclose(log_weights.mean(axis=0), exact, atol=0.1)

    for labels in (np.array([3, 8]), np.array([0, 0])):  # given labels are ignored
        again = model.log_density_terms(
            two_images, labels.astype("int32"), samples, keras.random.SeedGenerator(3)
        )
        for key, value in again.items():
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(value), keras.ops.convert_to_numpy(density[key])
            )


# -- the labelled / unlabelled split in a training step -------------------------------------


def gradients_of(model: M2, images, labels, *values):
    """Gradients of each ``value(model, terms)`` w.r.t. (classifier, encoder + decoder), from
    one pass (the same draws of z for all)."""
    with tf.GradientTape(persistent=True) as tape:
        terms = model.bound_terms(images, labels, training=True)
        computed = [value(model, terms) for value in values]
    for_z = [*model.encoder.trainable_variables, *model.decoder.trainable_variables]
    networks = (model.classifier.trainable_variables, for_z)
    found = [
        [
            [
                np.zeros(w.shape) if g is None else g.numpy()  # None: not connected
                for g, w in zip(tape.gradient(v, variables), variables, strict=True)
            ]
            for variables in networks
        ]
        for v in computed
    ]
    del tape
    return found


def objective(model, terms):
    return model.objective(terms)


def assert_all_close(got, want, **tolerance):
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, **tolerance)


def test_labelled_images_train_the_classifier_only_through_alpha(two_images):
    """L(x, y) does not involve q(y|x): on a labelled batch the classifier's gradient is
    alpha times that of the cross-entropy; the networks for z get L's."""
    model = tiny_m2(alpha=0.3)
    labels = np.array([3, 8], dtype="int32")
    (by_objective, by_cross_entropy, by_bound) = gradients_of(
        model,
        two_images,
        labels,
        objective,
        lambda m, t: 0.3 * keras.ops.mean(t["cross_entropy"]),
        lambda m, t: keras.ops.mean(t["labelled_bound"]),
    )
    assert_all_close(by_objective[0], by_cross_entropy[0], rtol=1e-4, atol=1e-7)
    assert any(np.abs(g).max() > 0 for g in by_objective[0])
    assert_all_close(by_objective[1], by_bound[1], rtol=1e-4, atol=1e-6)


def test_unlabelled_images_train_the_classifier_through_the_marginal_bound(two_images):
    """No label, no cross-entropy: the classifier learns from U(x) alone (as in the paper,
    where q(y|x) weighs the labels' bounds for unlabelled images)."""
    model = tiny_m2(alpha=0.3)
    labels = np.array([-1, -1], dtype="int32")
    by_objective, by_bound = gradients_of(
        model,
        two_images,
        labels,
        objective,
        lambda m, t: keras.ops.mean(t["unlabelled_reconstruction"] + t["unlabelled_kl"]),
    )
    for part in (0, 1):
        assert_all_close(by_objective[part], by_bound[part], rtol=1e-4, atol=1e-6)
    assert any(np.abs(g).max() > 0 for g in by_objective[0])


@pytest.mark.parametrize(
    "labels",
    [[3, 8, 1, 0], [-1, -1, -1, -1], [3, -1, -1, 0]],
    ids=["labelled", "unlabelled", "mixed"],
)
def test_train_step_splits_the_batch_on_the_label_mask(mnist, labels):
    """Finite losses; the labelled metrics over the labelled rows, U(x)'s over the others (a
    labelled row is bounded under its own label only, so it has no U(x))."""
    from mnist_vae.models import build_model, model_config

    images = (mnist.x_test[:4, ..., None] / 255.0).astype("float32")
    labels = np.array(labels, dtype="int32")
    keras.utils.set_random_seed(0)
    model = build_model(model_config("net1", strategy="m2", latent_dim=2), seed=0)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    log_q = keras.ops.convert_to_numpy(model.class_log_probabilities(images))  # before the step
    logs = model.train_on_batch(images, labels, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values()), logs
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + logs["kl"], rel=1e-5)
    mask = labels >= 0
    if mask.any():
        cross_entropy = -log_q[mask, labels[mask]].mean()
        assert logs["classification_loss"] == pytest.approx(cross_entropy, rel=1e-4)
        correct = (log_q.argmax(axis=1) == labels)[mask].mean()
        assert logs["labelled_accuracy"] == pytest.approx(correct)
    else:
        assert logs["classification_loss"] == logs["labelled_bound"] == 0.0  # nothing labelled


# -- the fast step: rows the bound needs, the encoder's image part once ----------------------


def tiled_objective(model: M2, images, labels, noise):
    """m2's objective computed as at 8e9275f: every image encoded (as image and ten constant
    label planes, through the whole encoder) and decoded under every label, the noise of
    image b under label y ``noise[b * 10 + y]``."""
    from mnist_vae.models.losses import kl_to_standard_normal

    ops = keras.ops
    batch = len(images)
    tiled = ops.repeat(images, NUM_CLASSES, axis=0)
    classes = ops.tile(ops.arange(NUM_CLASSES, dtype="int32"), (batch,))
    mean, log_variance = model.encode_distribution(tiled, classes, training=True)
    z = mean + ops.exp(0.5 * log_variance) * noise
    logits = model.decode_logits(z, classes, training=True)
    reconstruction = ops.reshape(model.reconstruction_terms(tiled, logits), (batch, NUM_CLASSES))
    kl = ops.reshape(kl_to_standard_normal(mean, log_variance), (batch, NUM_CLASSES))
    log_q = model.class_log_probabilities(images, training=True)
    q = ops.exp(log_q)
    given = ops.one_hot(labels, NUM_CLASSES)
    labelled = ops.cast(labels >= 0, "float32")
    cost = reconstruction + model.kl_weight() * kl
    labelled_cost = ops.sum(given * cost, axis=-1) + np.log(NUM_CLASSES)
    unlabelled_cost = ops.sum(q * cost, axis=-1) + ops.sum(q * log_q, axis=-1) + np.log(10.0)
    bound = ops.mean(labelled * labelled_cost + (1.0 - labelled) * unlabelled_cost)
    cross_entropy = -ops.sum(given * log_q) / ops.sum(labelled)
    return bound + model.options.alpha * cross_entropy


def loss_and_gradients(model: M2, compute):
    variables = model.optimized_variables()
    with tf.GradientTape() as tape:
        loss = compute()
    return float(loss), [g.numpy() for g in tape.gradient(loss, variables)]


@pytest.mark.parametrize("arch", ["mlp", "net1", "resconv"])
def test_fast_step_gives_the_tiled_computations_loss_and_gradients(mnist, arch, monkeypatch):
    """Labelled images under their own label only, the encoder's image part once per image
    (mlp: the first dense layer's image rows; net1: the first convolution's image channel)
    and no label planes: the same objective and gradients as every image under every label
    through the whole encoder, with the same noise. resconv cannot be split: its rows go
    through the whole encoder, fewer of them, to the same numbers."""
    from mnist_vae.models import build_model, model_config

    images = (mnist.x_test[:6, ..., None] / 255.0).astype("float32")
    labels = np.array([3, -1, -1, 0, -1, 7], dtype="int32")
    keras.utils.set_random_seed(0)
    model = build_model(model_config(arch, strategy="m2", latent_dim=3), seed=0)
    noise = np.random.default_rng(5).standard_normal((6 * NUM_CLASSES, 3)).astype("float32")
    want_loss, want = loss_and_gradients(
        model, lambda: tiled_objective(model, images, keras.ops.convert_to_tensor(labels), noise)
    )

    split = model.condition_split()
    assert (split is None) == (arch == "resconv")
    if split is not None:  # the fast path never builds the 28x28x10 label planes

        def no_planes(*args, **kwargs):
            raise AssertionError("label planes built")

        monkeypatch.setattr(model, "encoder_inputs", no_planes)
    fix_noise(model, monkeypatch, noise)
    got_loss, got = loss_and_gradients(
        model, lambda: model.objective(model.bound_terms(images, labels, training=True))
    )
    assert got_loss == pytest.approx(want_loss, rel=1e-5)
    # Float tolerance: rounding differs with the order of the sums (the classifier's
    # gradient, q(y|x) times differences of ~500-nat bounds, shows it most, ~1e-4 of its
    # largest entry); a wrong row, weight or noise would differ by a whole term.
    for variable, a, b in zip(model.optimized_variables(), got, want, strict=True):
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-4 * scale, err_msg=variable.path)
    assert any(np.abs(g).max() > 0 for g in got)


def test_bound_rows_are_every_label_unlabelled_and_the_given_one_labelled():
    model = tiny_m2()
    rows, classes = model.bound_rows(np.array([-1, 4, -1, 0], dtype="int32"))
    ten = list(range(NUM_CLASSES))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(rows), [0] * 10 + [1] + [2] * 10 + [3])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(classes), [*ten, 4, *ten, 0])


def test_split_encoders_compute_the_whole_encoder():
    """Every registered encoder at the conditional input: the split (where it exists) gives
    the encoder's output on the image with the label planes; saved weights are untouched."""
    from mnist_vae.registry import encoders
    from mnist_vae.zoo.encoders import split_encoder

    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28, 1)).astype("float32")
    rows, classes = np.array([0, 0, 1, 2, 2, 2]), np.array([3, 7, 0, 9, 1, 1])
    planes = np.broadcast_to(
        np.eye(NUM_CLASSES, dtype="float32")[classes][:, None, None, :], (6, 28, 28, NUM_CLASSES)
    )
    parts = {}
    for name in encoders.names():
        encoder = encoders.get(name)(4, input_shape=(28, 28, 1 + NUM_CLASSES))
        before = [w.copy() for w in encoder.get_weights()]
        split = split_encoder(encoder, NUM_CLASSES)
        parts[name] = None if split is None else split.part
        if split is None:
            continue
        want = encoder(np.concatenate([images[rows], planes], axis=-1), training=False)
        got = split(images, rows, classes, training=False)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got),
            keras.ops.convert_to_numpy(want),
            atol=2e-5,
            err_msg=name,
        )
        for a, b in zip(encoder.get_weights(), before, strict=True):
            np.testing.assert_array_equal(a, b)
    assert parts["mlp"] == "dense" and parts["net1"] == "conv" and parts["net4"] == "flatten"
    assert parts["resconv"] is None  # functional: the whole encoder on the tiled rows


def test_m2_trains_under_xla_with_rows_of_data_dependent_count(mnist):
    """XLA (Keras's default on accelerators) compiles the step although the number of rows
    depends on how many images are labelled."""
    from mnist_vae.models import build_model, model_config

    images = (mnist.x_test[:8, ..., None] / 255.0).astype("float32")
    keras.utils.set_random_seed(0)
    model = build_model(model_config("mlp", strategy="m2", latent_dim=2), seed=0)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), jit_compile=True)
    for labels in ([-1, -1, 3, 4, -1, 5, 6, 7], [1, -1, -1, -1, -1, -1, -1, 2]):
        logs = model.train_on_batch(images, np.array(labels, dtype="int32"), return_dict=True)
        assert all(np.isfinite(value) for value in logs.values()), logs
        assert logs["loss"] > 0 and logs["labelled_bound"] > 0


def test_without_a_label_the_classifier_guesses_it(mnist):
    from mnist_vae.models import build_model, model_config

    images = (mnist.x_test[:6, ..., None] / 255.0).astype("float32")
    model = build_model(model_config("net1", strategy="m2", latent_dim=2), seed=0)
    guessed = keras.ops.convert_to_numpy(model.classify(images))
    assert guessed.shape == (6,) and guessed.dtype == np.int32
    numpy = keras.ops.convert_to_numpy
    np.testing.assert_array_equal(numpy(model.encode(images)), numpy(model.encode(images, guessed)))
    np.testing.assert_array_equal(
        numpy(model.reconstruct(images)), numpy(model.reconstruct(images, guessed))
    )
    metrics = model.extra_test_metrics(images, mnist.y_test[:6])
    assert metrics["classifier_accuracy"] == pytest.approx(np.mean(guessed == mnist.y_test[:6]))
    assert metrics["classifier_error"] == pytest.approx(1 - metrics["classifier_accuracy"])
    assert set(model.extra_networks()) == {"classifier"}


# -- the labelled set -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def some_training_images(mnist):
    return mnist.x_train[:3000], mnist.y_train[:3000]


def test_labelled_set_is_balanced_seeded_and_chosen_by_content(some_training_images):
    images, labels = some_training_images
    chosen = select_labelled_set(images, labels, 100, seed=0)
    assert len(np.unique(chosen)) == 100
    np.testing.assert_array_equal(np.bincount(labels[chosen], minlength=10), np.full(10, 10))
    np.testing.assert_array_equal(select_labelled_set(images, labels, 100, seed=0), chosen)
    assert set(select_labelled_set(images, labels, 100, seed=1)) != set(chosen)

    order = np.random.default_rng(0).permutation(len(images))  # another source's order
    again = select_labelled_set(images[order], labels[order], 100, seed=0)
    np.testing.assert_array_equal(images[order][again], images[chosen])
    np.testing.assert_array_equal(labels[order][again], labels[chosen])


def test_labelled_sets_nest_in_stratified_training_subsets(some_training_images):
    images, labels = some_training_images
    subset = select_training_set(images, labels, 1000, seed=4)
    from_subset = subset[select_labelled_set(images[subset], labels[subset], 50, seed=4)]
    np.testing.assert_array_equal(from_subset, select_labelled_set(images, labels, 50, seed=4))


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (105, "labels must be a positive multiple of the 10 classes"),
        (0, "labels must be a positive multiple of the 10 classes"),
        (5000, "labels 5000 needs 500 images of each class; class"),
    ],
)
def test_labelled_set_errors_are_one_line(some_training_images, size, message):
    images, labels = some_training_images
    with pytest.raises(ConfigError, match=message) as error:
        select_labelled_set(images, labels, size, seed=0)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"labels": 0}, "labels must be a positive integer"),
        ({"labels": 105}, "labels must be a multiple of the 10 classes"),
        ({"labels": 300, "train_size": 200}, "labels 300 exceeds the 200 training images"),
    ],
)
def test_train_config_checks_labels(settings, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**settings)
    assert TrainConfig(labels=100).labels == 100 and TrainConfig().labels is None


def test_training_arrays_follow_the_strategy_kind(some_training_images):
    images, labels = some_training_images
    config = RunConfig(ModelConfig("net1", "net1", strategy="m2"), TrainConfig(labels=100))
    chosen = select_labelled_set(images, labels, 100, seed=0)

    semi = training_arrays(
        SimpleNamespace(semi_supervised=True, conditional=True), config, images, labels
    )
    assert len(semi.images) == len(images) and semi.labels is labels
    assert np.count_nonzero(semi.seen_labels >= 0) == 100
    np.testing.assert_array_equal(np.flatnonzero(semi.seen_labels >= 0), np.sort(chosen))
    np.testing.assert_array_equal(semi.seen_labels[chosen], labels[chosen])
    np.testing.assert_array_equal(semi.labelled[0], images[chosen])

    supervised = training_arrays(SimpleNamespace(conditional=True), config, images, labels)
    np.testing.assert_array_equal(supervised.images, images[chosen])
    assert supervised.labelled is None

    with pytest.raises(UsageError, match="does not train on a labelled subset"):
        training_arrays(SimpleNamespace(conditional=False), config, images, labels)
    every = RunConfig(config.model, TrainConfig())
    plain = training_arrays(
        SimpleNamespace(semi_supervised=True, conditional=True), every, images, labels
    )
    assert plain.seen_labels is labels and plain.labelled is None  # m2 without --labels


# -- the pipeline: labelled rows in every batch -----------------------------------------------


@pytest.fixture
def hidden_labels():
    """50 uint8 images, 10 of them labelled (the rest -1), and the labelled pool."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    classes = rng.integers(0, 10, 50)
    chosen = np.arange(0, 50, 5)
    seen = np.full(50, -1)
    seen[chosen] = classes[chosen]
    return images, seen, (images[chosen], classes[chosen])


def passes(images, labels, pool, *, seed=0, epoch=0, skip=0, binary=False, rows=5):
    dataset = make_dataset(
        images,
        labels,
        16,
        shuffle=True,
        seed=seed,
        clock=EpochClock(epoch),
        skip_batches=skip,
        resample_binary=binary,
        labelled=pool,
        labelled_per_batch=rows,
    )
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def test_every_batch_gets_labelled_rows_from_the_pool(hidden_labels):
    images, seen, (pool_images, pool_labels) = hidden_labels
    batches = passes(images, seen, (pool_images, pool_labels))
    assert [len(y) for _, y in batches] == [21, 21, 21, 7]  # 16, 16, 16, 2 shuffled + 5 each
    pool_float = pool_images.astype(np.float32) / 255.0
    shuffled = []
    for x, y in batches:
        extra_x, extra_y = x[-5:, ..., 0], y[-5:]
        for image, label in zip(extra_x, extra_y, strict=True):
            match = [i for i in range(len(pool_float)) if np.array_equal(pool_float[i], image)]
            assert match and pool_labels[match[0]] == label
        shuffled += [(image.tobytes(), label) for image, label in zip(x[:-5], y[:-5], strict=True)]
    # The shuffled part is the whole set once, labels as given (-1 where hidden).
    floats = images.astype(np.float32) / 255.0
    want = sorted((image.tobytes(), label) for image, label in zip(floats, seen, strict=True))
    assert sorted(shuffled) == want


def test_labelled_rows_are_seeded_and_bit_equal_after_a_mid_epoch_resume(hidden_labels):
    images, seen, pool = hidden_labels
    for binary in (False, True):
        full = passes(images, seen, pool, seed=3, epoch=2, binary=binary)
        again = passes(images, seen, pool, seed=3, epoch=2, binary=binary)
        resumed = passes(images, seen, pool, seed=3, epoch=2, skip=2, binary=binary)
        for (x, y), (x2, y2) in zip(full, again, strict=True):
            np.testing.assert_array_equal(x, x2)
            np.testing.assert_array_equal(y, y2)
        for (x, y), (x2, y2) in zip(full[2:], resumed, strict=True):
            np.testing.assert_array_equal(x, x2)
            np.testing.assert_array_equal(y, y2)
    extra = [x[-5:] for x, _ in passes(images, seen, pool, seed=3, epoch=2)]
    other_seed = [x[-5:] for x, _ in passes(images, seen, pool, seed=4, epoch=2)]
    other_epoch = [x[-5:] for x, _ in passes(images, seen, pool, seed=3, epoch=3)]
    assert not all(np.array_equal(a, b) for a, b in zip(extra, other_seed, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(extra, other_epoch, strict=True))


def test_labelled_rows_need_a_shuffled_pipeline(hidden_labels):
    images, seen, pool = hidden_labels
    with pytest.raises(ValueError, match="labelled rows"):
        make_dataset(images, seen, 16, labelled=pool, labelled_per_batch=5)


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def m2_run(tmp_path_factory, small_mnist_npz):
    """m2 with 100 labels on 200 images of the real slice, one epoch, through the CLI."""
    out = tmp_path_factory.mktemp("runs") / "m2"
    options = ["--strategy", "m2", "--labels", 100, "--labelled-per-batch", 20, "--quiet"]
    shape = ["--train-size", 200, "--epochs", 1, "--batch-size", 100]
    result = invoke("train", *options, *shape, *data_out(small_mnist_npz, out))
    assert result.exit_code == 0, result.output
    return out, result


def test_m2_trains_from_the_cli_and_reports_its_classifier(m2_run):
    from mnist_vae.runs import load_run

    out, result = m2_run
    run = load_run(out)
    assert run.config.model.strategy == "m2" and run.config.train.labels == 100
    assert run.config.model.options == {"labelled_per_batch": 20}
    test = run.metrics["test"]
    assert 0.0 <= test["classifier_accuracy"] <= 1.0
    assert test["classifier_error"] == pytest.approx(1.0 - test["classifier_accuracy"])
    assert test["negative_elbo"] == pytest.approx(test["reconstruction"] + test["kl"], rel=1e-4)
    assert run.record["data"]["train_images"] == 200  # all of them, 100 with labels
    assert "classifier error" in result.output
    assert (out / "classifier.keras").exists()
    assert (out / "figures" / "digits_by_style.png").exists()
    history = run.history()
    assert {"labelled_bound", "classification_loss", "labelled_accuracy"} <= set(history)


def test_an_m2_run_samples_a_class(m2_run, tmp_path):
    out, _ = m2_run
    assert sampled(out, tmp_path, "--class", 3).shape == (6, 28, 28)


def test_a_run_config_repeats_its_labels(m2_run, monkeypatch, tmp_path):
    out, _ = m2_run
    seen = stop_before_training(monkeypatch)
    result = invoke("train", "--config", out / "config.json", "--out", tmp_path / "again")
    assert result.exit_code == 1 and "stopped before training" in result.output, result.output
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["train"]["labels"] == 100
    assert seen["config"].to_dict() == RunConfig.from_dict(recorded).to_dict()


@pytest.mark.parametrize("given", ["flags", "config file", "both"])
def test_labels_for_a_strategy_without_labels_exit_2_before_the_data(
    tmp_path, small_mnist_npz, monkeypatch, given
):
    import mnist_vae.training.trainer

    monkeypatch.setattr(mnist_vae.training.trainer, "load_mnist", never_called)  # a download
    config = tmp_path / "config.toml"
    config.write_text('[model]\nstrategy = "m2"\n[train]\nlabels = 100\n')
    options, said = {
        "flags": (["--strategy", "vae", "--labels", 100, "--train-size", 600], "--labels 100"),
        # the file's labels, for a strategy given over the file's: the error names the file
        "config file": (["--config", config, "--strategy", "vae"], f"labels 100 in {config}"),
        "both": (["--config", config, "--strategy", "vae", "--labels", 50], "--labels 50"),
    }[given]
    result = invoke("train", *options, *data_out(small_mnist_npz, tmp_path / "run"))
    assert_one_line_error(result, 2, said, "'vae' does not train on a labelled subset")
    assert ("remove it from the file" in result.output) == (given == "config file")
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run*"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--labels", 105], "multiple of the 10 classes"), (["--labels", 0], "--labels")],
)
def test_bad_label_counts_exit_2(tmp_path, args, fragment):
    result = invoke("train", "--strategy", "m2", *args, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, fragment)
    assert not (tmp_path / "run").exists()


def test_cvae_with_labels_trains_on_the_labelled_images_only(tmp_path, small_mnist_npz):
    from mnist_vae.runs import load_run

    out = tmp_path / "cvae"
    options = ["--strategy", "cvae", "--labels", 50, "--train-size", 600, "--batch-size", 25]
    result = invoke("train", *options, "--epochs", 1, *data_out(small_mnist_npz, out), *QUIET)
    assert result.exit_code == 0, result.output
    run = load_run(out)
    assert run.record["data"]["train_images"] == 50 and run.metrics["train_images"] == 50
    assert "classifier_accuracy" not in run.metrics["test"]


@pytest.mark.slow  # the default suite's resume tests kill vae runs mid-epoch
@pytest.mark.faults
def test_an_m2_run_killed_mid_epoch_resumes_bit_equal(small_mnist_npz, tmp_path):
    """The labelled rows are drawn by (seed, epoch, batch): a resumed epoch draws the same."""
    import subprocess
    import sys

    from mnist_vae.io import training_stage_path

    def args(out):
        return [
            "train",
            "--strategy",
            "m2",
            "--labels",
            "50",
            "--labelled-per-batch",
            "10",
            "--train-size",
            "600",
            "--batch-size",
            "100",
            "--epochs",
            "2",
            "--seed",
            "3",
            "--checkpoint-every-steps",
            "2",
            "--data",
            str(small_mnist_npz),
            "--out",
            str(out),
            "--quiet",
        ]

    def positions(out):
        index = training_stage_path(out) / "checkpoint" / "checkpoint.json"
        try:
            return [(c["epoch"], c["step"]) for c in json.loads(index.read_text())["checkpoints"]]
        except (OSError, ValueError):
            return []

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert invoke(*args(whole)).exit_code == 0
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT, *args(killed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kill_when(
        process,
        lambda: [p for p in positions(killed)[-1:] if p[0] >= 1 and p[1] > 0],
        "no mid-epoch checkpoint in epoch 2",
    )

    resumed = invoke("train", "--resume", killed, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert "steps of epoch 2" in resumed.output
    ours = keras.saving.load_model(killed / "model.keras").get_weights()
    theirs = keras.saving.load_model(whole / "model.keras").get_weights()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
