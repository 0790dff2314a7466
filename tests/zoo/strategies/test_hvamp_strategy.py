"""The ladder VAE with a VampPrior on z2: its prior, its KL estimate and its sampling, by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.models import build_model, model_config, portable_random
from tests.helpers import QUIET, data_out, log_normal

TOP, LOW, PSEUDO = 3, 2, 4


def numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


@pytest.fixture(scope="module")
def hvamp():
    keras.utils.set_random_seed(0)
    options = {"top_latent_dim": TOP, "top_hidden": 8, "pseudo_inputs": PSEUDO}
    model = build_model(model_config("net1", strategy="hvamp", latent_dim=LOW, options=options))
    rng = np.random.default_rng(4)
    for network in (model.top_encoder, model.top_decoder):  # away from the start, to bite
        for variable in network.weights:
            variable.assign(rng.normal(0, 0.4, variable.shape).astype("float32"))
    pixels = model.pseudo_inputs.pixels
    pixels.assign(rng.random(pixels.shape).astype("float32"))  # four unlike pseudo-images
    return model


def components(model) -> tuple[np.ndarray, np.ndarray]:
    """q(z2 | u_k) of the four pseudo-inputs, through the encoder and the top encoder."""
    stats = numpy(model.encoder(model.pseudo_inputs.images()))
    top = numpy(model.top_encoder(stats.astype("float32")))
    return top[:, :TOP], top[:, TOP:]


def mixture(z2, means, log_variances) -> np.ndarray:
    """log (1/K) sum_k N(z2; means_k, exp(log_variances_k)), written out."""
    pairs = zip(means, log_variances, strict=True)
    per_component = np.stack([log_normal(z2, m, v) for m, v in pairs])
    return np.logaddexp.reduce(per_component, axis=0) - np.log(len(means))


def test_the_top_prior_is_the_pseudo_inputs_posterior_mixture(hvamp):
    means, log_variances = components(hvamp)
    assert np.ptp(means, axis=0).max() > 0.05  # the components differ: the mixture bites
    z2 = np.random.default_rng(1).normal(size=(5, TOP)).astype("float32")
    np.testing.assert_allclose(
        numpy(hvamp.top_prior_log_density(z2)), mixture(z2, means, log_variances), rtol=1e-5
    )
    # One component, by hand: at its own mean the quadratic term vanishes.
    single = mixture(means[:1].astype("float32"), means[:1], log_variances[:1])
    hand = -0.5 * (log_variances[0].sum() + TOP * np.log(2 * np.pi))
    assert float(single[0]) == pytest.approx(hand, rel=1e-6)


def test_importance_terms_use_the_mixture_for_z2(hvamp, tiny_images):
    """log p(z2) + log p(z1|z2) with the mixture; the posterior terms are the ladder's."""
    samples, batch = 2, len(tiny_images)
    terms = hvamp.log_density_terms(tiny_images, None, samples, keras.random.SeedGenerator(5))
    generator = keras.random.SeedGenerator(5)  # the same draws, in the model's order
    top_noise = numpy(keras.random.normal((samples * batch, TOP), seed=generator))
    noise = numpy(keras.random.normal((samples * batch, LOW), seed=generator))
    stats = numpy(hvamp.encoder(tiny_images))
    top = numpy(hvamp.top_encoder(stats.astype("float32")))
    means, log_variances = components(hvamp)
    for k in range(samples):
        rows = slice(k * batch, (k + 1) * batch)
        z2 = top[:, :TOP] + np.exp(0.5 * top[:, TOP:]) * top_noise[rows]
        prior = tuple(numpy(t) for t in hvamp.top_down(z2.astype("float32")))
        precision = np.exp(-stats[:, LOW:]) + np.exp(-prior[1])
        mean = (stats[:, :LOW] * np.exp(-stats[:, LOW:]) + prior[0] * np.exp(-prior[1])) / precision
        z1 = mean + np.sqrt(1 / precision) * noise[rows]
        log_prior = mixture(z2, means, log_variances) + log_normal(z1, *prior)
        log_posterior = log_normal(z2, top[:, :TOP], top[:, TOP:]) + log_normal(
            z1, mean, -np.log(precision)
        )
        np.testing.assert_allclose(numpy(terms["log_prior"][k]), log_prior, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(
            numpy(terms["log_posterior"][k]), log_posterior, rtol=1e-4, atol=1e-3
        )


def test_the_elbos_top_kl_is_log_q_minus_log_p_at_the_draw(hvamp, tiny_images):
    top = tuple(np.float32(v) for v in (np.zeros((2, TOP)) + 0.3, np.zeros((2, TOP)) - 0.5))
    z2 = np.float32([[0.1, -0.2, 0.4], [1.0, 0.0, -1.0]])
    means, log_variances = components(hvamp)
    expected = log_normal(z2, top[0], top[1]) - mixture(z2, means, log_variances)
    estimate = numpy(hvamp.top_kl(top, z2))
    assert estimate.shape == (2, 1)
    np.testing.assert_allclose(estimate[:, 0], expected, rtol=1e-5, atol=1e-5)
    # The ELBO's KL is that estimate plus the closed-form KL of z1: one column each, summed.
    _, kl_dims = hvamp.kl_dimensions(tiny_images)
    assert tuple(kl_dims.shape) == (len(tiny_images), 1 + LOW)


def test_prior_samples_pick_a_pseudo_input_then_go_down(hvamp):
    z1 = numpy(hvamp.sample_prior(6, 7))
    means, log_variances = components(hvamp)
    noise2 = numpy(portable_random.standard_normal([6, TOP], 7))
    chosen = np.minimum(
        np.floor(numpy(portable_random.uniform([6], 7 + 104729)) * PSEUDO).astype(int), PSEUDO - 1
    )
    z2 = means[chosen] + np.exp(0.5 * log_variances[chosen]) * noise2
    mean, log_variance = (numpy(t) for t in hvamp.top_down(z2.astype("float32")))
    noise = numpy(portable_random.standard_normal([6, LOW], 7 + 7919))
    np.testing.assert_allclose(z1, mean + np.exp(0.5 * log_variance) * noise, rtol=1e-4, atol=1e-5)


def test_it_trains_from_the_cli_and_its_pseudo_inputs_move(mnist, small_mnist_npz, tmp_path):
    runner = CliRunner()
    out = tmp_path / "hvamp"
    model = ["--strategy", "hvamp", "--arch", "mlp", "--latent-dim", "8", "--top-latent-dim", "4"]
    training = ["--top-hidden", "32", "--pseudo-inputs", "20", "--kl-warmup-epochs", "1"]
    training += ["--train-size", "all", "--batch-size", "50", "--epochs", "2", "--seed", "0"]
    result = runner.invoke(
        cli, ["train", *model, *training, *QUIET, *data_out(small_mnist_npz, out)]
    )
    assert result.exit_code == 0, result.output
    trained = keras.saving.load_model(out / "model.keras")
    options = {"top_latent_dim": 4, "top_hidden": 32, "pseudo_inputs": 20}
    start = build_model(model_config("mlp", strategy="hvamp", latent_dim=8, options=options), 0)
    moved = np.abs(numpy(trained.pseudo_inputs.pixels) - numpy(start.pseudo_inputs.pixels))
    assert moved.max() > 1e-3  # the prior is learned, not fixed at its start
    images = (mnist.x_test[:16, ..., None] / 255.0).astype("float32")
    terms = trained.log_density_terms(images, None, 3, keras.random.SeedGenerator(0))
    assert np.isfinite(numpy(terms["log_prior"])).all()
