"""The ELBO's arithmetic, checked against values worked out by hand."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mnist_vae.models.losses import kl_to_standard_normal, reconstruction_nll
from mnist_vae.zoo.likelihoods import bernoulli, gaussian

PIXELS = 28 * 28


def test_bernoulli_at_zero_logits_is_log2_per_pixel():
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    nll = keras.ops.convert_to_numpy(bernoulli(x, np.zeros_like(x)))
    np.testing.assert_allclose(nll, PIXELS * math.log(2.0), rtol=1e-6)


def test_bernoulli_matches_cross_entropy_formula():
    # p = sigmoid(ln 3) = 0.75; x = 0.25: -(0.25 ln 0.75 + 0.75 ln 0.25) per pixel.
    x = np.full((1, 28, 28, 1), 0.25, "float32")
    logits = np.full_like(x, math.log(3.0))
    expected = -(0.25 * math.log(0.75) + 0.75 * math.log(0.25)) * PIXELS
    assert keras.ops.convert_to_numpy(bernoulli(x, logits))[0] == pytest.approx(expected, rel=1e-5)


def test_bernoulli_is_finite_for_extreme_logits():
    x = np.array([[1.0, 0.0]], "float32").reshape(1, 2, 1, 1)
    logits = np.array([[200.0, -200.0]], "float32").reshape(1, 2, 1, 1)
    assert keras.ops.convert_to_numpy(bernoulli(x, logits))[0] == pytest.approx(0.0, abs=1e-6)
    wrong = keras.ops.convert_to_numpy(bernoulli(1.0 - x, logits))[0]
    assert wrong == pytest.approx(400.0, rel=1e-5)


def test_gaussian_includes_its_normalising_constant():
    # mean = sigmoid(0) = 0.5; x = 0.5 gives zero error, so only the constant is left.
    x = np.full((2, 28, 28, 1), 0.5, "float32")
    nll = keras.ops.convert_to_numpy(gaussian(x, np.zeros_like(x), variance=1.0))
    np.testing.assert_allclose(nll, 0.5 * PIXELS * math.log(2 * math.pi), rtol=1e-6)


def test_gaussian_squared_error_scales_with_variance():
    x = np.ones((1, 28, 28, 1), "float32")  # error 0.5 per pixel against mean 0.5
    for variance in (1.0, 0.1):
        nll = keras.ops.convert_to_numpy(gaussian(x, np.zeros_like(x), variance=variance))[0]
        expected = PIXELS * (0.5 * 0.25 / variance + 0.5 * math.log(2 * math.pi * variance))
        assert nll == pytest.approx(expected, rel=1e-5)


def test_kl_worked_example():
    # KL(N(1, 1) x N(0, 2) || N(0, I)) = 0.5 * (1 + 1 - 1 - 0) + 0.5 * (2 - 1 - ln 2)
    mean = np.array([[1.0, 0.0]], "float32")
    log_variance = np.array([[0.0, math.log(2.0)]], "float32")
    kl = keras.ops.convert_to_numpy(kl_to_standard_normal(mean, log_variance))[0]
    assert kl == pytest.approx(0.5 + 0.5 * (1.0 - math.log(2.0)), rel=1e-6)


def test_kl_is_zero_at_the_prior():
    kl = keras.ops.convert_to_numpy(kl_to_standard_normal(np.zeros((4, 3)), np.zeros((4, 3))))
    np.testing.assert_allclose(kl, 0.0, atol=1e-7)


def test_reconstruction_nll_rejects_unknown_likelihood():
    from mnist_vae.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="bernoulli"):
        reconstruction_nll("bernouli", np.zeros((1, 28, 28, 1)), np.zeros((1, 28, 28, 1)))


def test_gaussian_default_variance_is_the_batch_mean_squared_error():
    """sigma-VAE: with x = (0, 1) and mean (0.5, 0.5) the optimal variance is 0.25."""
    x = np.array([[[[0.0], [1.0]]]], "float32")  # one image of two pixels
    logits = np.zeros_like(x)  # sigmoid(0) = 0.5
    got = keras.ops.convert_to_numpy(gaussian(x, logits))
    # two pixels of 0.5 * 0.25 / 0.25 + 0.5 * log(2 pi 0.25)
    np.testing.assert_allclose(got, [1.0 + math.log(math.pi / 2.0)], rtol=1e-6)
    fixed = keras.ops.convert_to_numpy(gaussian(x, logits, variance=0.25))
    np.testing.assert_allclose(fixed, got, rtol=1e-6)


def test_gaussian_default_variance_has_a_floor():
    x = np.full((1, 2, 2, 1), 0.5, "float32")
    got = keras.ops.convert_to_numpy(gaussian(x, np.zeros_like(x)))  # a perfect fit
    assert np.isfinite(got).all()
