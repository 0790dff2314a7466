"""The VampPrior's log-density and sampler, against direct computations."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mnist_vae.models import build_model, model_config
from mnist_vae.zoo.strategies.vamp import mixture_log_density

MEANS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 3.0]], "float32")
LOG_VARIANCES = np.log(np.array([[1.0, 1.0], [0.25, 4.0], [0.5, 0.5]], "float32"))


def direct(z: np.ndarray) -> np.ndarray:
    """log (1/K) sum_k prod_d N(z_d; mu_kd, sigma_kd^2), written out term by term."""
    out = []
    for point in z:
        total = 0.0
        for mean, log_variance in zip(MEANS, LOG_VARIANCES, strict=True):
            variance = np.exp(log_variance.astype(np.float64))
            density = np.prod(
                np.exp(-((point - mean) ** 2) / (2 * variance)) / np.sqrt(2 * math.pi * variance)
            )
            total += density / len(MEANS)
        out.append(math.log(total))
    return np.array(out)


def test_mixture_log_density_matches_the_direct_sum():
    z = np.array([[0.1, -0.2], [2.0, -1.0], [-1.0, 2.5], [4.0, 4.0]], "float32")
    got = keras.ops.convert_to_numpy(mixture_log_density(z, MEANS, LOG_VARIANCES))
    np.testing.assert_allclose(got, direct(z), rtol=1e-5)


def test_mixture_log_density_keeps_leading_axes():
    z = np.random.default_rng(0).standard_normal((3, 4, 2)).astype("float32")
    got = keras.ops.convert_to_numpy(mixture_log_density(z, MEANS, LOG_VARIANCES))
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got.reshape(-1), direct(z.reshape(-1, 2)), rtol=1e-5)


def test_one_component_is_a_gaussian():
    z = np.array([[0.3, -0.4]], "float32")
    got = keras.ops.convert_to_numpy(mixture_log_density(z, MEANS[:1], LOG_VARIANCES[:1]))
    expected = -0.5 * (0.09 + 0.16) - math.log(2 * math.pi)
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


@pytest.fixture(scope="module")
def vamp():
    options = {"pseudo_inputs": 7, "kl_warmup_epochs": 0}
    return build_model(model_config("net1", strategy="vamp", latent_dim=2, options=options))


def test_the_prior_is_the_mixture_of_the_pseudo_inputs_posteriors(vamp):
    means, log_variances = vamp.prior_components()
    assert tuple(means.shape) == tuple(log_variances.shape) == (7, 2)
    z = np.random.default_rng(1).standard_normal((5, 2)).astype("float32")
    pixels = keras.ops.convert_to_numpy(vamp.pseudo_inputs.images())
    assert pixels.min() >= 0 and pixels.max() <= 1
    expected = mixture_log_density(z, *vamp.encode_distribution(pixels))
    np.testing.assert_allclose(vamp.prior_log_density(z), expected, rtol=1e-6)


def test_prior_samples_are_reproducible_and_follow_the_mixture(vamp):
    first = keras.ops.convert_to_numpy(vamp.sample_prior(4000, 3))
    np.testing.assert_array_equal(first, keras.ops.convert_to_numpy(vamp.sample_prior(4000, 3)))
    assert not np.array_equal(first, keras.ops.convert_to_numpy(vamp.sample_prior(4000, 4)))
    means, log_variances = (keras.ops.convert_to_numpy(t) for t in vamp.prior_components())
    # The mixture's mean and variance: the average of the components', plus the spread of means.
    mixture_mean = means.mean(axis=0)
    mixture_variance = np.exp(log_variances).mean(axis=0) + means.var(axis=0)
    np.testing.assert_allclose(first.mean(axis=0), mixture_mean, atol=0.1)
    np.testing.assert_allclose(first.var(axis=0), mixture_variance, rtol=0.15)


def test_the_kl_estimate_is_log_q_minus_log_p(vamp, tiny_images):
    import tensorflow as tf

    vamp.sampler.seed_generator.state.assign(tf.constant([0, 0], "uint32"))
    _, kl = vamp.elbo_terms(tiny_images)
    vamp.sampler.seed_generator.state.assign(tf.constant([0, 0], "uint32"))
    mean, log_variance, z, _ = vamp.elbo_parts(tiny_images)
    variance = np.exp(keras.ops.convert_to_numpy(log_variance).astype(np.float64))
    z, mean = keras.ops.convert_to_numpy(z), keras.ops.convert_to_numpy(mean)
    log_q = np.sum(-((z - mean) ** 2) / (2 * variance) - 0.5 * np.log(2 * math.pi * variance), -1)
    log_p = keras.ops.convert_to_numpy(vamp.prior_log_density(z))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kl), log_q - log_p, rtol=1e-4, atol=1e-4)


def test_the_pseudo_inputs_train_with_the_networks(vamp, mnist):
    images = (mnist.x_test[:32, ..., None] / 255.0).astype("float32")
    before = keras.ops.convert_to_numpy(vamp.pseudo_inputs.pixels).copy()
    vamp.compile(optimizer=keras.optimizers.SGD(0.1))
    vamp.fit(images, batch_size=16, epochs=1, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(vamp.pseudo_inputs.pixels), before)


def test_the_kl_is_warmed_up_over_the_first_epochs():
    """A learned prior meets constant codes half-way: the KL weight starts at 0."""
    options = {"pseudo_inputs": 3, "kl_warmup_epochs": 4}
    model = build_model(model_config("net1", strategy="vamp", beta=2.0, options=options))
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    assert float(model.kl_weight()) == 0.0
    model.optimizer.iterations.assign(model.steps_per_epoch)  # one epoch of four
    assert float(model.kl_weight()) == pytest.approx(0.5)
    model.optimizer.iterations.assign(10 * model.steps_per_epoch)
    assert float(model.kl_weight()) == pytest.approx(2.0)
    options = {"pseudo_inputs": 3, "kl_warmup_epochs": 0}
    off = build_model(model_config("net1", strategy="vamp", options=options))
    assert off.kl_weight() == 1.0
