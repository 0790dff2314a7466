"""Metric arithmetic on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_vae.evaluation import (
    frechet_distance,
    iwae_negative_log_likelihood,
    reconstruction_errors,
)
from mnist_vae.experiments.stats import mean_std, paired_t_test, t_two_sided_p
from tests.helpers import fixed_vae


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).standard_normal((500, 6))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    features = np.random.default_rng(1).standard_normal((400, 4))
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    assert frechet_distance(features, features + shift) == pytest.approx(5.25, rel=1e-8)


def test_frechet_distance_of_a_scaled_set_is_the_trace_of_its_covariance():
    # C2 = 4 C1 with equal means: tr(C1) + tr(4 C1) - 2 tr(2 C1) = tr(C1).
    features = np.random.default_rng(2).standard_normal((300, 5)) @ np.diag([1, 2, 3, 4, 5])
    features -= features.mean(axis=0)
    expected = np.trace(np.cov(features, rowvar=False))
    assert frechet_distance(features, 2 * features) == pytest.approx(expected, rel=1e-7)


def test_reconstruction_errors_by_hand():
    images = np.array([[[0.0, 1.0]]])
    reconstructions = np.array([[[0.5, 0.5]]])
    errors = reconstruction_errors(images, reconstructions)
    assert errors["pixel_mse"] == pytest.approx(0.25)
    assert errors["pixel_bce"] == pytest.approx(math.log(2.0), rel=1e-6)


def test_iwae_equals_the_elbo_when_the_posterior_is_the_prior():
    # q(z|x) = N(0, I) and a decoder that ignores z: every importance weight is p(x|z), so the
    # bound is -log p(x|z) = 784 ln 2 for any K, and so is the negative ELBO (KL = 0).
    model = fixed_vae(mean=[0.0, 0.0], log_variance=[0.0, 0.0], logits=0.0)
    images = np.random.default_rng(0).random((6, 28, 28, 1)).astype("float32")
    for samples in (1, 7, 50):
        bound = iwae_negative_log_likelihood(model, images, samples=samples)
        np.testing.assert_allclose(bound, 784 * math.log(2.0), rtol=1e-6)


def test_iwae_with_one_sample_is_the_elbo_and_tightens_with_more():
    # With a decoder that ignores z, log p(x) = -784 ln 2 exactly, while the ELBO pays the KL.
    # q = N(0.5, 1): KL = 0.125, and the weights p/q have finite variance, so the bound
    # converges quickly (a q narrower than half the prior's variance would not).
    model = fixed_vae(mean=[0.5], log_variance=[0.0], logits=0.0)
    kl = 0.125
    images = np.zeros((4000, 28, 28, 1), "float32")
    single = iwae_negative_log_likelihood(model, images, samples=1, seed=3)
    assert single.mean() == pytest.approx(784 * math.log(2.0) + kl, abs=0.03)  # K=1: the ELBO
    tight = iwae_negative_log_likelihood(model, images[:50], samples=2000, seed=3)
    assert tight.mean() == pytest.approx(784 * math.log(2.0), abs=0.01)
    assert tight.mean() < single.mean() - 0.5 * kl


def test_t_test_matches_table_values():
    # Two-sided 5% critical values: t(2) = 4.303, t(10) = 2.228, t(1) = 12.706.
    for t, dof in ((4.303, 2), (2.228, 10), (12.706, 1)):
        assert t_two_sided_p(t, dof) == pytest.approx(0.05, abs=2e-4)
    assert t_two_sided_p(0.0, 5) == pytest.approx(1.0)


def test_paired_t_test_by_hand():
    # Differences 0.05, 0.06, 0.03: mean 0.0467, sd 0.01528, t = 0.0467 / (0.01528 / sqrt 3) = 5.29.
    result = paired_t_test([0.90, 0.92, 0.91], [0.85, 0.86, 0.88])
    assert result["mean_difference"] == pytest.approx(0.14 / 3)
    assert result["t"] == pytest.approx(5.2915, rel=1e-4)
    assert 0.03 < result["p"] < 0.04
    assert mean_std([1.0]) == (1.0, 0.0)
