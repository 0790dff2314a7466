"""beta-TCVAE's decomposition of the KL, against a computation written out by hand."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mnist_vae.models import build_model, model_config
from mnist_vae.zoo.strategies.btcvae import kl_decomposition

MEAN = np.array([[0.0, 1.0], [0.5, -0.5], [-1.0, 0.2]])
LOG_VARIANCE = np.log(np.array([[1.0, 0.5], [0.25, 1.0], [2.0, 0.8]]))
Z = np.array([[0.3, 0.9], [0.4, -0.2], [-1.5, 0.0]])
N = 1000


def normal_log_density(x, mean, variance):
    return -0.5 * ((x - mean) ** 2 / variance + np.log(2 * math.pi * variance))


def by_hand() -> dict:
    """The minibatch-weighted-sampling estimates, one loop per sum, in float64."""
    m, d = Z.shape
    variance = np.exp(LOG_VARIANCE)
    out = {"mutual_information": [], "total_correlation": [], "dimension_kl": []}
    for i in range(m):
        log_q_given_own_x = sum(
            normal_log_density(Z[i, k], MEAN[i, k], variance[i, k]) for k in range(d)
        )
        joint = [
            sum(normal_log_density(Z[i, k], MEAN[j, k], variance[j, k]) for k in range(d))
            for j in range(m)
        ]
        log_q = math.log(sum(math.exp(v) for v in joint)) - math.log(N * m)
        log_marginals = 0.0
        for k in range(d):
            per_j = [normal_log_density(Z[i, k], MEAN[j, k], variance[j, k]) for j in range(m)]
            log_marginals += math.log(sum(math.exp(v) for v in per_j)) - math.log(N * m)
        log_prior = sum(normal_log_density(Z[i, k], 0.0, 1.0) for k in range(d))
        out["mutual_information"].append(log_q_given_own_x - log_q)
        out["total_correlation"].append(log_q - log_marginals)
        out["dimension_kl"].append(log_marginals - log_prior)
    return out


def test_kl_decomposition_matches_the_hand_computation():
    got = kl_decomposition(*(a.astype("float32") for a in (Z, MEAN, LOG_VARIANCE)), N)
    expected = by_hand()
    for name, values in expected.items():
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got[name]), values, rtol=1e-4)


def test_the_three_terms_add_up_to_the_one_sample_kl():
    got = kl_decomposition(*(a.astype("float32") for a in (Z, MEAN, LOG_VARIANCE)), N)
    total = sum(keras.ops.convert_to_numpy(v) for v in got.values())
    variance = np.exp(LOG_VARIANCE)
    log_q = normal_log_density(Z, MEAN, variance).sum(axis=1)
    log_p = normal_log_density(Z, 0.0, 1.0).sum(axis=1)
    np.testing.assert_allclose(total, log_q - log_p, rtol=1e-4)


def test_independent_dimensions_have_no_total_correlation_in_one_image():
    # One image: the aggregate posterior is its factorised posterior, so TC is exactly 0.
    got = kl_decomposition(
        Z[:1].astype("float32"), MEAN[:1].astype("float32"), LOG_VARIANCE[:1].astype("float32"), 1
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got["total_correlation"]), [0.0], atol=1e-5
    )


def test_btcvae_trains_reports_the_terms_and_knows_the_dataset_size(mnist):
    images = (mnist.x_test[:32, ..., None] / 255.0).astype("float32")
    model = build_model(model_config("net1", strategy="btcvae", latent_dim=3), seed=0)
    assert model.dataset_size == 20_000 and model.options.tc_weight == pytest.approx(6.0)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    logs = model.fit(images, batch_size=16, epochs=1, verbose=0).history
    assert {"mutual_information", "total_correlation", "dimension_kl"} <= set(logs)
    assert all(np.isfinite(values[0]) for values in logs.values())
