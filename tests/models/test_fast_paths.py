"""The faster training and scoring paths compute what the plain ones did.

Each fast path (the grouped Bernoulli likelihood, the fused Adam update, uint8
batches decoded in the step, the IWAE bound in blocks of samples, the thread
defaults) is checked against a direct computation: numpy in float64 worked on a
small case, Keras's own Adam, or the float pipeline it replaces.
"""

from __future__ import annotations

import dataclasses
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.data import make_dataset
from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood, sample_blocks
from mnist_vae.models.losses import LOG1P_GROUP, bernoulli_negative_log_likelihood
from mnist_vae.models.steps import unpack
from mnist_vae.zoo.optimizers import FusedAdam


def _bce_float64(targets: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """sum over pixels of log(1 + e^l) - x l, in float64."""
    logits, targets = logits.astype(np.float64), targets.astype(np.float64)
    values = np.logaddexp(0.0, logits) - logits * targets
    return values.reshape(len(values), -1).sum(axis=1)


@pytest.mark.parametrize("pixels", [784, 5, LOG1P_GROUP, 2 * LOG1P_GROUP + 1])
def test_grouped_bernoulli_equals_the_cross_entropy_sum(pixels):
    # Any pixel count (a last group padded with factors of 1), grey and binary targets,
    # logits from confident to extreme.
    rng = np.random.default_rng(pixels)
    logits = (rng.normal(size=(6, pixels)) * 8).astype("float32")
    logits[0, 0], logits[1, -1] = 90.0, -90.0
    targets = rng.random((6, pixels)).astype("float32")
    targets[3:] = targets[3:] < 0.5
    got = bernoulli_negative_log_likelihood(targets, logits).numpy()
    np.testing.assert_allclose(got, _bce_float64(targets, logits), rtol=2e-6, atol=2e-4)


def test_grouped_bernoulli_worked_by_hand():
    # l = ln 3 (p = 0.75) against x = 1 and x = 0: -ln 0.75 and -ln 0.25; l = 0: ln 2.
    logits = np.array([[math.log(3.0), math.log(3.0), 0.0]], "float32")
    targets = np.array([[1.0, 0.0, 1.0]], "float32")
    expected = -math.log(0.75) - math.log(0.25) + math.log(2.0)
    got = float(bernoulli_negative_log_likelihood(targets, logits)[0])
    assert got == pytest.approx(expected, rel=1e-6)


def test_grouped_bernoulli_gradient_is_sigmoid_minus_target():
    rng = np.random.default_rng(0)
    logits = tf.constant((rng.normal(size=(3, 28, 28, 1)) * 4).astype("float32"))
    targets = tf.constant(rng.random((3, 28, 28, 1)).astype("float32"))
    weights = tf.constant([1.0, 2.0, -3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([logits, targets])
        total = tf.reduce_sum(weights * bernoulli_negative_log_likelihood(targets, logits))
    expected = weights[:, None, None, None] * (tf.sigmoid(logits) - targets)
    np.testing.assert_allclose(tape.gradient(total, logits), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        tape.gradient(total, targets), -weights[:, None, None, None] * logits, rtol=1e-6
    )


def test_grouped_bernoulli_broadcasts_one_image_over_its_samples():
    # Scoring decodes K samples of one image: targets [1, ...] against logits [K, ...].
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(4, 28, 28, 1)) * 3).astype("float32")
    image = (rng.random((1, 28, 28, 1)) < 0.3).astype("float32")
    tiled = np.repeat(image, 4, axis=0)
    np.testing.assert_allclose(
        bernoulli_negative_log_likelihood(image, logits), _bce_float64(tiled, logits), rtol=2e-6
    )


def _variables():
    rng = np.random.default_rng(2)
    return [keras.Variable(rng.normal(size=shape).astype("float32")) for shape in ((5, 3), (3,))]


@pytest.mark.parametrize(
    "learning_rate",
    [1e-3, keras.optimizers.schedules.InverseTimeDecay(5e-3, decay_steps=2, decay_rate=0.5)],
)
def test_fused_adam_takes_kerass_adam_steps(learning_rate):
    rng = np.random.default_rng(3)
    ours, theirs = _variables(), _variables()
    fused = FusedAdam(learning_rate)
    plain = keras.optimizers.Adam(learning_rate)
    for _ in range(5):
        gradients = [rng.normal(size=v.shape).astype("float32") for v in ours]
        fused.apply(gradients, ours)
        plain.apply(gradients, theirs)
    for mine, reference, start in zip(ours, theirs, _variables(), strict=True):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-5, atol=1e-7)
        assert not np.allclose(mine.numpy(), start.numpy())  # five steps moved it


def test_fused_adam_round_trips_its_config():
    optimizer = FusedAdam(2e-3, beta_1=0.8, epsilon=1e-4)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is FusedAdam and again.get_config() == optimizer.get_config()


@pytest.mark.parametrize("binary", [False, True])
def test_uint8_batches_decode_in_the_step_to_the_float_pipelines_batches(binary):
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, size=(37, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=37)
    settings = {"shuffle": True, "seed": 7, "resample_binary": binary}
    floats = list(make_dataset(images, labels, 16, **settings))
    raws = list(make_dataset(images, labels, 16, raw=True, **settings))
    assert len(floats) == len(raws) == 3
    for (expected, expected_labels), raw in zip(floats, raws, strict=True):
        assert raw[0].dtype == tf.uint8 and len(raw) == (3 if binary else 2)
        decoded, decoded_labels = unpack(raw)
        np.testing.assert_array_equal(decoded.numpy(), expected.numpy())
        np.testing.assert_array_equal(decoded_labels.numpy(), expected_labels.numpy())


def test_raw_batches_need_a_shuffled_pipeline():
    with pytest.raises(ValueError, match="shuffle"):
        make_dataset(np.zeros((4, 28, 28), np.uint8), np.zeros(4), 2, raw=True)


@pytest.mark.parametrize(
    ("samples", "images", "rows", "expected"),
    [(5000, 4, 5000, [1250] * 4), (7, 1, 3, [3, 2, 2]), (10, 3, 100, [10]), (3, 5, 2, [1, 1, 1])],
)
def test_sample_blocks_split_samples_evenly_under_the_row_budget(samples, images, rows, expected):
    assert sample_blocks(samples, images, rows) == expected


class CountingModel:
    """log-weights log 1, log 2, ..., log K over a bound's K draws, in draw order.

    Its bound is then -log((1/K) sum_k k) = -log((K + 1) / 2), whatever the blocks.
    """

    conditional = False

    def __init__(self) -> None:
        self.drawn = tf.Variable(0.0)

    def log_density_terms(self, images, labels, samples, seed_generator):
        batch = tf.shape(images)[0]
        first = self.drawn.read_value()
        self.drawn.assign_add(float(samples))
        counts = first + tf.range(1, samples + 1, dtype=tf.float32)
        log_weights = tf.tile(tf.math.log(counts)[:, None], [1, batch])
        zeros = tf.zeros_like(log_weights)
        return {"log_likelihood": log_weights, "log_prior": zeros, "log_posterior": zeros}


@pytest.mark.parametrize("rows_per_block", [1, 3, 7, 1000])
def test_the_bound_in_blocks_is_the_bound_over_all_samples(rows_per_block):
    model = CountingModel()
    bound = iwae_negative_log_likelihood(
        model, np.zeros((1, 28, 28, 1), "float32"), samples=7, rows_per_block=rows_per_block
    )
    assert float(bound[0]) == pytest.approx(-math.log(4.0), rel=1e-6)
    assert float(model.drawn.numpy()) == 7  # every sample drawn once


def test_thread_layout_is_set_before_tensorflow_starts_and_yields_to_the_user(monkeypatch):
    from mnist_vae import backend

    monkeypatch.setitem(backend._started, "tensorflow", False)
    monkeypatch.setattr(backend, "_USER_THREADS", {"TF_NUM_INTEROP_THREADS"})
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "3")  # the user's
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "9")  # an earlier default of ours
    backend.set_default_threads(one_per_op=False)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == str(backend.usable_cores())
    assert os.environ["TF_NUM_INTEROP_THREADS"] == "3"
    backend.set_default_threads()
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.setitem(backend._started, "tensorflow", True)  # too late to change
    backend.set_default_threads(one_per_op=False)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"


def test_the_graph_optimizer_is_switched_off_only_when_asked(monkeypatch):
    import tensorflow as tf

    from mnist_vae import backend

    before = tf.config.optimizer.get_experimental_options()
    try:
        for value, off in ((None, False), ("1", False), ("0", True)):
            tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": False})
            monkeypatch.setitem(backend._started, "tensorflow", False)
            if value is None:
                monkeypatch.delenv(backend.GRAPH_OPTIMIZER, raising=False)
            else:
                monkeypatch.setenv(backend.GRAPH_OPTIMIZER, value)
            backend.prepare_backend()
            options = tf.config.optimizer.get_experimental_options()
            assert bool(options.get("disable_meta_optimizer")) is off, (value, options)
    finally:
        tf.config.optimizer.set_experimental_options(before)


def test_a_nonsense_graph_optimizer_value_is_a_usage_error_before_any_work(
    tmp_path, small_mnist_npz
):
    from mnist_vae.backend import GRAPH_OPTIMIZER
    from tests.helpers import assert_one_line_error, invoke, tiny_train_args

    out = tmp_path / "run"
    result = invoke(*tiny_train_args(small_mnist_npz, out), env={GRAPH_OPTIMIZER: "off"})
    assert_one_line_error(result, 2, f"{GRAPH_OPTIMIZER}='off'", "set it to 0")
    assert not out.exists()


def test_dense_networks_train_one_thread_per_op():
    from mnist_vae.models import model_config
    from mnist_vae.training.threads import dense_networks

    assert dense_networks(model_config("mlp", latent_dim=50))
    assert not dense_networks(model_config("net1", latent_dim=2))
    mixed = dataclasses.replace(model_config("mlp", latent_dim=2), decoder="net1")
    assert not dense_networks(mixed)
