"""iwae2, Burda et al.'s two-layer model: its log-weights against a direct computation."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from mnist_vae.models import build_model, model_config
from tests.helpers import invoke, log_normal, nll_of_run, tiny_train_args

LATENT, TOP = 4, 3


@pytest.fixture(scope="module")
def model():
    options = {"top_latent_dim": TOP, "top_hidden": 8, "iw_samples": 3}
    return build_model(
        model_config("mlp", strategy="iwae2", latent_dim=LATENT, options=options), seed=0
    )


def numpy_of(network, values) -> np.ndarray:
    return keras.ops.convert_to_numpy(network(np.asarray(values, "float32")))


def test_log_weights_match_a_direct_computation(model, tiny_images):
    """Bottom-up: z2's posterior is computed from each draw of z1, not from q(z1|x)'s mean."""
    samples, batch = 5, len(tiny_images)
    terms = model.log_density_terms(tiny_images, None, samples, keras.random.SeedGenerator(7))
    got = {key: keras.ops.convert_to_numpy(value) for key, value in terms.items()}

    # The same noise, drawn in the same order from a generator with the same seed.
    generator = keras.random.SeedGenerator(7)
    normal = keras.random.normal
    noise = keras.ops.convert_to_numpy(normal((samples, batch, LATENT), seed=generator))
    top_noise = keras.ops.convert_to_numpy(normal((samples * batch, TOP), seed=generator))
    stats = numpy_of(model.encoder, tiny_images)
    mean, log_variance = stats[:, :LATENT], stats[:, LATENT:]
    z1 = (mean + np.exp(0.5 * log_variance) * noise).reshape(-1, LATENT)
    top = numpy_of(model.top_encoder, z1)
    z2 = top[:, :TOP] + np.exp(0.5 * top[:, TOP:]) * top_noise
    prior = numpy_of(model.top_decoder, z2)
    logits = numpy_of(model.decoder, z1).reshape(samples * batch, -1)
    pixels = np.tile(tiny_images.reshape(batch, -1), (samples, 1))
    log_likelihood = np.sum(pixels * logits - np.logaddexp(0.0, logits), axis=-1)
    log_prior = log_normal(z1, prior[:, :LATENT], prior[:, LATENT:]) + log_normal(z2, 0.0, 0.0)
    log_posterior = log_normal(
        z1, np.tile(mean, (samples, 1)), np.tile(log_variance, (samples, 1))
    ) + log_normal(z2, top[:, :TOP], top[:, TOP:])

    def shaped(values):
        return values.reshape(samples, batch)

    np.testing.assert_allclose(got["log_likelihood"], shaped(log_likelihood), rtol=1e-4)
    np.testing.assert_allclose(got["log_prior"], shaped(log_prior), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got["log_posterior"], shaped(log_posterior), rtol=1e-4, atol=1e-3)


def test_a_constant_model_has_the_hand_computed_elbo(tiny_images):
    """Zero kernels: each Gaussian is its biases, so E[log p - log q] is minus two KLs.

    q(z1|x) = N(0.5, 0.25), p(z1|z2) = N(0, 1): KL = (0.25 + 0.25 - 1 - ln 0.25) / 2
    = 0.443147 per dimension; q(z2|z1) = N(-1, 1) against N(0, 1): KL = 0.5 per
    dimension. The likelihood's logits are 0: log p(x|z1) = -784 ln 2 for any pixels.
    """
    model = build_model(
        model_config(
            "mlp", strategy="iwae2", latent_dim=2, options={"top_latent_dim": 3, "top_hidden": 4}
        ),
        seed=0,
    )
    biases = {
        model.encoder: [0.5, 0.5, math.log(0.25), math.log(0.25)],
        model.top_encoder: [-1.0] * 3 + [0.0] * 3,
        model.top_decoder: [0.0] * 4,
    }
    for network in (model.encoder, model.decoder, model.top_encoder, model.top_decoder):
        weights = [np.zeros_like(w) for w in network.get_weights()]
        weights[-1] = np.asarray(biases.get(network, weights[-1]), "float32")
        network.set_weights(weights)
    binary = (tiny_images[:2] > 0.5).astype("float32")  # per image: two are enough
    terms = model.log_density_terms(binary, None, 20_000, keras.random.SeedGenerator(1))
    likelihood = keras.ops.convert_to_numpy(terms["log_likelihood"])
    np.testing.assert_allclose(likelihood, -784 * math.log(2), rtol=1e-6)
    kl = keras.ops.convert_to_numpy(terms["log_posterior"] - terms["log_prior"]).mean(axis=0)
    expected = 2 * 0.5 * (0.25 + 0.25 - 1 - math.log(0.25)) + 3 * 0.5
    np.testing.assert_allclose(kl, expected, atol=0.03)


def test_the_cli_trains_the_papers_shape_and_scores_it(tmp_path, small_mnist_npz):
    out = tmp_path / "two-layer"
    model = ["--strategy", "iwae2", "--arch", "mlp", "--latent-dim", 6, "--top-latent-dim", 3]
    options = ["--top-hidden", 10, "--iw-samples", 2, "--binarize", "dynamic"]
    trained = invoke(*tiny_train_args(small_mnist_npz, out, *model, *options))
    assert trained.exit_code == 0, trained.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["options"] == {"top_latent_dim": 3, "top_hidden": 10, "iw_samples": 2}
    scored = invoke(*nll_of_run(out, 4, small_mnist_npz, tmp_path / "nll", "--quiet"))
    assert scored.exit_code == 0, scored.output
