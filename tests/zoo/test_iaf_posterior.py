"""``--posterior iaf``: triangular Jacobians whose log-determinants the model adds up."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.errors import ConfigError
from mnist_vae.models import build_model, model_config
from mnist_vae.zoo.posteriors import IAFStep, autoregressive_masks


def iaf_model(latent: int, steps: int, hidden: int, strategy: str = "vae"):
    options = {"posterior": "iaf", "flow_steps": steps, "flow_hidden": hidden}
    return build_model(model_config("net1", strategy=strategy, latent_dim=latent, options=options))


def gaussian_log_density(noise, log_variance):
    """log N(z_0; mu, sigma^2) written through z_0's standard-normal noise, by hand."""
    noise, log_variance = np.asarray(noise), np.asarray(log_variance)
    return -0.5 * np.sum(noise**2 + log_variance + np.log(2 * np.pi), axis=-1)


@pytest.mark.parametrize("reverse", [False, True])
def test_made_masks_let_each_output_see_only_earlier_inputs(reverse):
    hidden, output = autoregressive_masks(4, 10, reverse)
    reach = (hidden @ output) > 0  # input i reaches output d through some hidden unit
    order = list(range(4))[::-1] if reverse else list(range(4))
    position = {dimension: rank for rank, dimension in enumerate(order)}
    for i in range(4):
        for d in range(4):
            if reach[i, d]:
                assert position[i] < position[d]


def _randomised_step(reverse: bool) -> IAFStep:
    step = IAFStep(4, 3, 16, reverse)
    rng = np.random.default_rng(1)
    for variable in step.weights:  # away from the near-identity start, so the test bites
        variable.assign(rng.normal(0, 0.7, variable.shape).astype("float32"))
    return step


def _jacobian(fn, z):
    z = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = fn(z)
    return tape.jacobian(out, z).numpy()[0, :, 0, :]  # d out / d z, one point


@pytest.mark.parametrize("reverse", [False, True])
def test_one_step_log_determinant_matches_the_numerical_jacobian(reverse):
    step = _randomised_step(reverse)
    z = np.array([[0.3, -1.2, 0.8, 0.1]], "float32")
    context = np.array([[0.5, -0.5, 1.0]], "float32")
    jacobian = _jacobian(lambda t: step(t, context)[0], z)
    _, log_gate = step(z, context)
    sign, log_det = np.linalg.slogdet(jacobian.astype(np.float64))
    assert sign > 0
    np.testing.assert_allclose(log_det, float(log_gate[0]), rtol=1e-4, atol=1e-5)
    order = [3, 2, 1, 0] if reverse else [0, 1, 2, 3]
    permuted = jacobian[np.ix_(order, order)]
    np.testing.assert_allclose(np.triu(permuted, 1), 0.0, atol=1e-7)  # triangular in order


def test_the_whole_flows_log_determinant_is_the_sum_the_model_uses():
    model = iaf_model(4, 3, 16)
    rng = np.random.default_rng(2)
    for step in model.posterior_flow:
        for variable in step.weights:
            variable.assign(rng.normal(0, 0.5, variable.shape).astype("float32"))
    mean = rng.normal(size=(1, 4)).astype("float32")
    log_variance = rng.normal(0, 0.3, size=(1, 4)).astype("float32")
    z0 = rng.normal(size=(1, 4)).astype("float32")
    jacobian = _jacobian(lambda t: model.transform_posterior_draws(t, mean, log_variance)[0], z0)
    _, log_gates = model.transform_posterior_draws(z0, mean, log_variance)
    np.testing.assert_allclose(
        np.linalg.slogdet(jacobian.astype(np.float64))[1], float(log_gates[0]), rtol=1e-4, atol=1e-5
    )


def test_the_flowed_posterior_density_integrates_to_one_in_one_dimension():
    """Change of variables done right: q(z_T|x) over a fine grid of z_0 sums to 1."""
    model = iaf_model(1, 2, 8)
    mean, log_variance = np.array([[0.4]], "float32"), np.array([[-0.5]], "float32")
    z0 = np.linspace(-6, 6, 20001, dtype="float32")[:, None]
    noise = (z0 - mean) * np.exp(-0.5 * log_variance)
    tiled = [np.repeat(mean, len(z0), 0), np.repeat(log_variance, len(z0), 0)]
    z, log_gates = model.transform_posterior_draws(z0, *tiled)
    log_q = gaussian_log_density(noise, tiled[1]) - keras.ops.convert_to_numpy(log_gates)
    z = keras.ops.convert_to_numpy(z)[:, 0]
    assert np.all(np.diff(z) > 0)  # the flow is monotone in one dimension
    mass = np.sum(np.exp(log_q[:-1]) * np.diff(z))
    np.testing.assert_allclose(mass, 1.0, atol=2e-3)


def test_importance_terms_score_the_flowed_draws(tiny_images):
    """log_density_terms (the IWAE bound's input) scores z_T with the flow's log-determinant."""
    model = iaf_model(3, 2, 8)
    rng = np.random.default_rng(3)
    for step in model.posterior_flow:
        for variable in step.weights:
            variable.assign(rng.normal(0, 0.5, variable.shape).astype("float32"))
    terms = model.log_density_terms(tiny_images, None, 2, keras.random.SeedGenerator(5))
    encoded = model.encode_distribution(tiny_images)
    mean, log_variance = (keras.ops.convert_to_numpy(t) for t in encoded)
    noise = keras.ops.convert_to_numpy(
        keras.random.normal((2, len(tiny_images), 3), seed=keras.random.SeedGenerator(5))
    )
    for k in range(2):
        z0 = mean + np.exp(0.5 * log_variance) * noise[k]
        z, log_gates = model.transform_posterior_draws(z0, mean, log_variance)
        expected = gaussian_log_density(noise[k], log_variance) - np.asarray(log_gates)
        np.testing.assert_allclose(terms["log_posterior"][k], expected, rtol=1e-4, atol=1e-4)
        prior = -0.5 * np.sum(keras.ops.convert_to_numpy(z) ** 2 + np.log(2 * np.pi), axis=-1)
        np.testing.assert_allclose(terms["log_prior"][k], prior, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strategy", ["vae", "iwae"])
def test_the_elbo_scores_the_flowed_draw_with_a_one_sample_kl(strategy, tiny_images):
    """KL = log N(z_0; mu, sigma^2) - sum log g - log N(z_T; 0, I) at the draw the decoder sees."""
    model = iaf_model(3, 2, 8, strategy)
    assert not model.analytic_kl()
    mean, log_variance, z0, z, log_det = model.posterior_draw(tiny_images)
    kl = model.kl_terms(mean, log_variance, z0, z, log_det)
    noise = (np.asarray(z0) - np.asarray(mean)) * np.exp(-0.5 * np.asarray(log_variance))
    z = np.asarray(z)
    expected = (
        gaussian_log_density(noise, log_variance)
        - np.asarray(log_det)
        + 0.5 * np.sum(z**2 + np.log(2 * np.pi), axis=-1)
    )
    np.testing.assert_allclose(np.asarray(kl), expected, rtol=1e-4, atol=1e-4)


def test_the_gaussian_posterior_keeps_the_closed_form_kl(tiny_images):
    model = build_model(model_config("net1", strategy="vae", latent_dim=3))
    assert model.analytic_kl() and model.posterior_flow == []
    _, kl = model.elbo_terms(tiny_images)
    mean, log_variance = (np.asarray(t) for t in model.encode_distribution(tiny_images))
    expected = -0.5 * np.sum(1 + log_variance - mean**2 - np.exp(log_variance), axis=-1)
    np.testing.assert_allclose(np.asarray(kl), expected, rtol=1e-5, atol=1e-5)


def test_free_bits_are_refused_with_a_flow_in_one_line():
    with pytest.raises(ConfigError, match="--free-bits needs the Gaussian posterior"):
        model_config("net1", strategy="vae", options={"posterior": "iaf", "free_bits": 0.5})


def test_the_flow_trains_and_reloads_with_its_weights(tiny_images, tmp_path):
    model = iaf_model(3, 2, 8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [np.array(v) for v in model.posterior_flow[0].trainable_variables]
    model.train_on_batch(tiny_images)
    after = [np.array(v) for v in model.posterior_flow[0].trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # it learns
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert len(loaded.posterior_flow) == 2
    np.testing.assert_array_equal(
        np.asarray(loaded.encode(tiny_images)), np.asarray(model.encode(tiny_images))
    )
