"""The iwae strategy's bound and the log-densities it is built from, checked by hand."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mnist_vae.models import build_model, model_config
from mnist_vae.models.losses import kl_to_standard_normal
from mnist_vae.zoo.strategies.iwae import importance_weighted_bound


def bound(log_weights) -> np.ndarray:
    return keras.ops.convert_to_numpy(importance_weighted_bound(np.asarray(log_weights, "float32")))


def test_one_sample_bound_is_the_log_weight_itself():
    np.testing.assert_allclose(bound([[-3.0, -7.5]]), [-3.0, -7.5], rtol=1e-6)


def test_two_sample_bound_by_hand():
    # weights 1 and 3: log((1 + 3) / 2) = log 2; weights e^-10 twice: -10
    np.testing.assert_allclose(
        bound([[0.0, -10.0], [math.log(3.0), -10.0]]), [math.log(2.0), -10.0], rtol=1e-6
    )


def test_the_bound_is_stable_for_very_negative_log_weights():
    assert np.isfinite(bound([[-2000.0], [-2001.0]])).all()


@pytest.fixture(scope="module")
def model():
    return build_model(model_config("net1", strategy="iwae", latent_dim=3), seed=0)


def test_log_density_terms_average_to_the_analytic_kl(model, tiny_images):
    """E_q[log q(z|x) - log p(z)] is KL(q || p): the terms the bound is made of agree."""
    images = tiny_images[:2]  # the estimate is per image: two are enough
    terms = model.log_density_terms(images, None, 4000, keras.random.SeedGenerator(1))
    estimate = keras.ops.convert_to_numpy(
        keras.ops.mean(terms["log_posterior"] - terms["log_prior"], axis=0)
    )
    mean, log_variance = model.encode_distribution(images)
    exact = keras.ops.convert_to_numpy(kl_to_standard_normal(mean, log_variance))
    np.testing.assert_allclose(estimate, exact, atol=0.1)


def test_the_bound_is_above_the_average_one_sample_bound_of_the_same_draws(model, tiny_images):
    """Jensen: log mean_k w_k >= mean_k log w_k, image by image, for the model's own draws."""
    log_weights = _log_weights(model, tiny_images, 50, keras.random.SeedGenerator(2))
    assert (bound(log_weights) >= log_weights.mean(axis=0) - 1e-4).all()
    assert (bound(log_weights) > log_weights.mean(axis=0)).any()


def _log_weights(model, images, samples, generator):
    terms = model.log_density_terms(images, None, samples, generator)
    return keras.ops.convert_to_numpy(
        terms["log_likelihood"] + terms["log_prior"] - terms["log_posterior"]
    )


def test_iwae_trains_and_reports_its_bound(model, mnist):
    images = (mnist.x_test[:32, ..., None] / 255.0).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    logs = model.fit(images, batch_size=16, epochs=1, verbose=0).history
    assert sorted(logs) == ["iwae_bound", "kl", "loss", "reconstruction"]
    # -L_K <= -L_1 on average, and -L_1 is the one-sample negative ELBO that `loss` tracks
    assert logs["iwae_bound"][0] <= logs["loss"][0] + 1.0
    assert model.options.iw_samples == 5


@pytest.mark.parametrize("strategy", ["iwae", "btcvae"])
def test_strategies_with_their_own_kl_weighting_refuse_beta(strategy):
    from mnist_vae.errors import ConfigError

    with pytest.raises(ConfigError, match="leave --beta at 1"):
        build_model(model_config("net1", strategy=strategy, beta=4.0))
