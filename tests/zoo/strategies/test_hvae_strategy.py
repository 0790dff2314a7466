"""The ladder VAE: its Gaussian algebra, its densities and its sampling path, by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.models import build_model, model_config, portable_random
from mnist_vae.zoo.strategies.hvae import gaussian_kl_per_dimension, precision_weighted
from tests.helpers import QUIET, data_out, log_normal


def numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def test_gaussian_kl_matches_the_hand_computation():
    # q = N(1, 0.5), p = N(0, 2): 0.5 * (log(2 / 0.5) + (0.5 + 1) / 2 - 1) = 0.56815
    kl = gaussian_kl_per_dimension(
        np.float32([1.0]), np.log(np.float32([0.5])), np.float32([0.0]), np.log(np.float32([2.0]))
    )
    assert float(numpy(kl)[0]) == pytest.approx(0.5 * (np.log(4.0) + 0.75 - 1.0), rel=1e-5)
    same = gaussian_kl_per_dimension(
        np.float32([0.3]), np.float32([0.2]), np.float32([0.3]), np.float32([0.2])
    )
    assert float(numpy(same)[0]) == pytest.approx(0.0, abs=1e-7)


def test_precision_weighting_matches_the_hand_computation():
    # N(1, 1) and N(4, 3): precisions 1 and 1/3, variance 0.75, mean 0.75 * (1 + 4/3) = 1.75
    mean, log_variance = precision_weighted(
        np.float32([1.0, 0.0]),
        np.log(np.float32([1.0, 1.0])),
        np.float32([4.0, 2.0]),
        np.log(np.float32([3.0, 1.0])),
    )
    np.testing.assert_allclose(numpy(mean), [1.75, 1.0], rtol=1e-5)
    np.testing.assert_allclose(np.exp(numpy(log_variance)), [0.75, 0.5], rtol=1e-5)


@pytest.fixture(scope="module")
def hvae():
    keras.utils.set_random_seed(0)
    options = {"top_latent_dim": 3, "top_hidden": 8}
    model = build_model(model_config("net1", strategy="hvae", latent_dim=2, options=options))
    rng = np.random.default_rng(4)
    for network in (model.top_encoder, model.top_decoder):  # away from the start, to bite
        for variable in network.weights:
            variable.assign(rng.normal(0, 0.4, variable.shape).astype("float32"))
    return model


def test_importance_terms_score_both_layers(hvae, tiny_images):
    """log p(z2) + log p(z1|z2) and log q(z2|x) + log q(z1|x,z2), recomputed in numpy."""
    samples, batch = 2, len(tiny_images)
    terms = hvae.log_density_terms(tiny_images, None, samples, keras.random.SeedGenerator(5))
    generator = keras.random.SeedGenerator(5)  # the same draws, in the model's order
    top_noise = numpy(keras.random.normal((samples * batch, 3), seed=generator))
    noise = numpy(keras.random.normal((samples * batch, 2), seed=generator))
    stats = numpy(hvae.encoder(tiny_images))
    top = numpy(hvae.top_encoder(stats.astype("float32")))
    for k in range(samples):
        rows = slice(k * batch, (k + 1) * batch)
        z2 = top[:, :3] + np.exp(0.5 * top[:, 3:]) * top_noise[rows]
        prior = tuple(numpy(t) for t in hvae.top_down(z2.astype("float32")))
        precision = np.exp(-stats[:, 2:]) + np.exp(-prior[1])
        mean = (stats[:, :2] * np.exp(-stats[:, 2:]) + prior[0] * np.exp(-prior[1])) / precision
        z1 = mean + np.sqrt(1 / precision) * noise[rows]
        log_prior = log_normal(z2, 0.0, 0.0) + log_normal(z1, *prior)
        log_posterior = log_normal(z2, top[:, :3], top[:, 3:]) + log_normal(
            z1, mean, -np.log(precision)
        )
        np.testing.assert_allclose(numpy(terms["log_prior"][k]), log_prior, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(
            numpy(terms["log_posterior"][k]), log_posterior, rtol=1e-4, atol=1e-3
        )
        logits = numpy(hvae.decoder(z1.astype("float32"))).reshape(batch, -1)
        x = tiny_images.reshape(batch, -1)
        bernoulli = np.sum(x * logits - np.logaddexp(0, logits), axis=-1)
        np.testing.assert_allclose(
            numpy(terms["log_likelihood"][k]), bernoulli, rtol=1e-4, atol=1e-2
        )


def test_the_elbos_kl_is_the_mean_of_log_q_minus_log_p(hvae, tiny_images):
    """The closed-form per-layer KLs against the Monte Carlo average of the same difference."""
    image = tiny_images[:1]
    # 300 draws of z2 in one batch: each row draws its own noise, as 300 calls would
    kls = numpy(hvae.elbo_terms(np.repeat(image, 300, axis=0))[1])
    assert kls.shape == (300,) and np.unique(kls).size > 250  # independent draws
    terms = hvae.log_density_terms(image, None, 20000, keras.random.SeedGenerator(2))
    monte_carlo = numpy(terms["log_posterior"] - terms["log_prior"]).mean()
    # E_z2[closed-form KLs] = E[log q - log p]; both averages carry sampling noise
    assert kls.mean() == pytest.approx(monte_carlo, abs=0.05 * abs(monte_carlo) + 0.05)


def test_prior_samples_go_down_through_the_top_layer(hvae):
    z1 = numpy(hvae.sample_prior(5, 7))
    z2 = portable_random.standard_normal([5, 3], 7)
    mean, log_variance = (numpy(t) for t in hvae.top_down(z2))
    noise = numpy(portable_random.standard_normal([5, 2], 7 + 7919))
    np.testing.assert_allclose(z1, mean + np.exp(0.5 * log_variance) * noise, rtol=1e-5, atol=1e-6)


def test_the_kl_is_warmed_up_and_the_top_layer_is_used(mnist, small_mnist_npz, tmp_path):
    """A short CLI run: it trains, both layers carry information, the run samples."""
    runner = CliRunner()
    out = tmp_path / "hvae"
    model = ["--strategy", "hvae", "--arch", "mlp", "--latent-dim", "8", "--top-latent-dim", "4"]
    training = ["--top-hidden", "32", "--kl-warmup-epochs", "1", "--train-size", "all"]
    training += ["--batch-size", "50", "--epochs", "3", "--seed", "0", *QUIET]
    result = runner.invoke(cli, ["train", *model, *training, *data_out(small_mnist_npz, out)])
    assert result.exit_code == 0, result.output
    model = keras.saving.load_model(out / "model.keras")
    images = (mnist.x_test[:64, ..., None] / 255.0).astype("float32")
    parameters = {key: numpy(value) for key, value in model.posterior_parameters(images).items()}
    assert set(parameters) == {"mean", "log_variance", "top_mean", "top_log_variance"}
    assert parameters["top_mean"].std(axis=0).max() > 0.05  # z2 varies with the image
    sampled = runner.invoke(
        cli, ["sample", str(out), "--count", "8", "--out", str(tmp_path / "s.png")]
    )
    assert sampled.exit_code == 0, sampled.output
