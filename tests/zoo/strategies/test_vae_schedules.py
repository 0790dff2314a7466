"""The vae strategy's KL knobs, against values worked out by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_vae.errors import ConfigError
from mnist_vae.models import build_model, model_config
from mnist_vae.models.losses import kl_per_dimension
from mnist_vae.zoo.strategies.vae import VaeOptions, kl_objective

# Two images, two latent dimensions: per-dimension batch means 0.2 and 1.0; the plain
# KL (batch mean of the per-image sums) is (2.1 + 0.3) / 2 = 1.2.
KL_DIMS = np.array([[0.1, 2.0], [0.3, 0.0]], "float32")


def objective(step: float, beta: float = 2.0, steps_per_epoch: int = 10, **options) -> float:
    value = kl_objective(KL_DIMS, np.float32(step), VaeOptions(**options), beta, steps_per_epoch)
    return float(keras.ops.convert_to_numpy(value))


@pytest.mark.parametrize(
    ("step", "options", "expected"),
    [
        (0, {}, 2.0 * 1.2),  # plain: beta * KL at every step
        (999, {}, 2.0 * 1.2),
        (5, {"kl_warmup_epochs": 2}, 2.0 * (5 / 20) * 1.2),  # a quarter of the way up
        (30, {"kl_warmup_epochs": 2}, 2.0 * 1.2),  # past the warm-up: beta
        (0, {"kl_warmup_epochs": 2}, 0.0),
        (0, {"free_bits": 0.5}, 2.0 * (0.5 + 1.0)),  # dimension 1's 0.2 nats are free
        (0, {"free_bits": 1.5}, 2.0 * (1.5 + 1.5)),  # both below: constant, no gradient
        (10, {"capacity": 4.0, "capacity_epochs": 2}, 100.0 * abs(1.2 - 2.0)),  # target 2 nats
        (0, {"capacity": 4.0, "capacity_epochs": 2, "capacity_weight": 3.0}, 3.0 * 1.2),
        (50, {"capacity": 4.0, "capacity_epochs": 2, "free_bits": 0.5}, 100.0 * abs(1.5 - 4.0)),
    ],
)
def test_kl_objective_matches_hand_computation(step, options, expected):
    assert objective(step, **options) == pytest.approx(expected, rel=1e-6)


def test_free_bits_stop_the_gradient_of_dimensions_below_the_floor():
    import tensorflow as tf

    kl = tf.Variable(KL_DIMS)
    with tf.GradientTape() as tape:
        value = kl_objective(kl, 0.0, VaeOptions(free_bits=0.5), 1.0, 10)
    gradient = tape.gradient(value, kl).numpy()
    np.testing.assert_allclose(gradient, [[0.0, 0.5], [0.0, 0.5]])  # d mean / d entry = 1/2


def test_kl_per_dimension_sums_to_the_kl():
    mean = np.array([[0.5, -1.0]], "float32")
    log_variance = np.array([[0.0, np.log(2.0)]], "float32")
    dims = keras.ops.convert_to_numpy(kl_per_dimension(mean, log_variance))
    # 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2) per dimension
    np.testing.assert_allclose(dims, [[0.125, 0.5 * (1 + 2 - 1 - np.log(2.0))]], rtol=1e-6)


def test_two_kl_schedules_at_once_are_refused():
    with pytest.raises(ConfigError, match="pick one"):
        VaeOptions(capacity=5.0, kl_warmup_epochs=2)


@pytest.mark.parametrize("options", [{}, {"kl_warmup_epochs": 3}, {"free_bits": 0.25}])
def test_schedules_train_and_keep_the_elbo_metrics(mnist, options):
    images = (mnist.x_test[:32, ..., None] / 255.0).astype("float32")
    model = build_model(model_config("net1", options=options), seed=0)
    assert model.steps_per_epoch == 50  # the default context: 20,000 images in batches of 400
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    logs = model.fit(images, batch_size=16, epochs=1, verbose=0).history
    assert sorted(logs) == ["kl", "loss", "reconstruction"]
    assert logs["loss"][0] == pytest.approx(logs["reconstruction"][0] + logs["kl"][0], rel=1e-5)


def test_warm_up_starts_from_the_reconstruction_alone(mnist):
    """At step 0 of a warm-up the gradient is that of the reconstruction term only."""
    import tensorflow as tf

    images = (mnist.x_test[:8, ..., None] / 255.0).astype("float32")
    warm = build_model(model_config("net1", options={"kl_warmup_epochs": 5}), seed=0)
    plain = build_model(model_config("net1", beta=1e-12), seed=0)  # ~no KL weight
    plain.set_weights(warm.get_weights())
    for model in (warm, plain):
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.sampler.seed_generator.state.assign(tf.constant([0, 0], "uint32"))
        model.train_on_batch(images)
    for a, b in zip(warm.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
