"""vamp2, Tomczak & Welling's two-layer VAE with a VampPrior: its log-weights by hand."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from mnist_vae.models import build_model, model_config
from tests.helpers import invoke, log_normal, numpy, one_line_message, tiny_train_args

LATENT, TOP, PSEUDO = 4, 3, 5


def vamp2_model(arch: str = "gated", **options):
    options = {"top_latent_dim": TOP, "top_hidden": 8, "pseudo_inputs": PSEUDO, **options}
    config = model_config(arch, strategy="vamp2", latent_dim=LATENT, options=options)
    return build_model(config, seed=0)


@pytest.fixture(scope="module")
def model():
    return vamp2_model()


def test_log_weights_match_a_direct_computation(model, tiny_images):
    """z2 first, from q(z2|x); z1 from q(z1|x, z2) at that draw; the prior mixes q(z2|u_k)."""
    samples, batch = 3, len(tiny_images)
    terms = model.log_density_terms(tiny_images, None, samples, keras.random.SeedGenerator(7))
    got = {key: numpy(value) for key, value in terms.items()}

    # The same noise, drawn in the same order from a generator with the same seed.
    generator = keras.random.SeedGenerator(7)
    top_noise = numpy(keras.random.normal((samples * batch, TOP), seed=generator))
    noise = numpy(keras.random.normal((samples * batch, LATENT), seed=generator))
    images = np.tile(tiny_images, (samples, 1, 1, 1))
    top = numpy(model.encoder(images))
    z2 = top[:, :TOP] + np.exp(0.5 * top[:, TOP:]) * top_noise
    z1_stats = numpy(model.z1_net([numpy(model.z1_image_net(images)), z2]))
    z1 = z1_stats[:, :LATENT] + np.exp(0.5 * z1_stats[:, LATENT:]) * noise
    prior = numpy(model.top_decoder(z2))
    logits = numpy(model.decoder(np.concatenate([z1, z2], axis=-1))).reshape(len(images), -1)
    pixels = images.reshape(len(images), -1)
    log_likelihood = np.sum(pixels * logits - np.logaddexp(0.0, logits), axis=-1)
    components = numpy(model.encoder(model.pseudo_inputs.images()))  # q(z2 | u_k), [K, 2 * TOP]
    per_component = np.stack(
        [log_normal(z2, c[:TOP], c[TOP:]) for c in components], axis=-1
    )  # [N, K], one log-density per mixture component, written out
    log_vamp = np.logaddexp.reduce(per_component, axis=-1) - math.log(PSEUDO)
    log_prior = log_normal(z1, prior[:, :LATENT], prior[:, LATENT:]) + log_vamp
    log_posterior = log_normal(z2, top[:, :TOP], top[:, TOP:]) + log_normal(
        z1, z1_stats[:, :LATENT], z1_stats[:, LATENT:]
    )

    def shaped(values):
        return values.reshape(samples, batch)

    np.testing.assert_allclose(got["log_likelihood"], shaped(log_likelihood), rtol=1e-4)
    np.testing.assert_allclose(got["log_prior"], shaped(log_prior), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got["log_posterior"], shaped(log_posterior), rtol=1e-4, atol=1e-3)
    # The protocol's prior density of a code [z1, z2] is the same joint density.
    codes = np.concatenate([z1, z2], axis=-1)
    np.testing.assert_allclose(numpy(model.prior_log_density(codes)), log_prior, rtol=1e-4)


def test_a_constant_model_has_the_hand_computed_elbo(tiny_images):
    """Zero kernels: every Gaussian is its output layer's biases (a gated unit of zeros is 0).

    q(z2|x) = N(-1, 1) and every VampPrior component q(z2|u_k) is the same N(-1, 1): the
    top KL is 0. p(z1|z2)'s log-variance bias of 3 is held at 2, so q(z1|x, z2) =
    N(0.5, 0.25) meets p(z1|z2) = N(0, e^2): KL = (2 - ln 0.25 + (0.25 + 0.25) / e^2 - 1) / 2
    = 1.227 per dimension. The logits are 0: log p(x|z1, z2) = -784 ln 2 for any pixels.
    """
    model = vamp2_model()
    biases = {
        model.encoder: [-1.0] * TOP + [0.0] * TOP,
        model.z1_net: [0.5] * LATENT + [math.log(0.25)] * LATENT,
    }
    for network in (model.encoder, model.decoder, model.z1_image_net, model.z1_net):
        weights = [np.zeros_like(w) for w in network.get_weights()]
        weights[-1] = np.asarray(biases.get(network, weights[-1]), "float32")
        network.set_weights(weights)
    weights = [np.zeros_like(w) for w in model.top_decoder.get_weights()]
    weights[-1] = np.asarray([0.0] * LATENT + [3.0] * LATENT, "float32")  # clipped to 2
    model.top_decoder.set_weights(weights)
    binary = (tiny_images[:2] > 0.5).astype("float32")
    terms = model.log_density_terms(binary, None, 20_000, keras.random.SeedGenerator(1))
    np.testing.assert_allclose(numpy(terms["log_likelihood"]), -784 * math.log(2), rtol=1e-6)
    kl = numpy(terms["log_posterior"] - terms["log_prior"]).mean(axis=0)
    expected = LATENT * 0.5 * (2.0 - math.log(0.25) + 0.5 / math.exp(2.0) - 1.0)
    np.testing.assert_allclose(kl, expected, atol=0.03)


def test_codes_are_the_pair_and_samples_come_from_the_hierarchy(model, tiny_images):
    assert model.latent_shape == (LATENT + TOP,)
    mean, log_variance = (numpy(v) for v in model.encode_distribution(tiny_images))
    assert mean.shape == log_variance.shape == (len(tiny_images), LATENT + TOP)
    assert np.all(log_variance >= -6.0) and np.all(log_variance <= 2.0)
    first, again = (numpy(model.sample_prior(7, 3)) for _ in range(2))
    assert first.shape == (7, LATENT + TOP)
    np.testing.assert_array_equal(first, again)  # portable noise: a seed gives the same codes


def test_the_cli_trains_the_papers_shape_and_samples_it(tmp_path, small_mnist_npz):
    out = tmp_path / "vamp2"
    model = ["--strategy", "vamp2", "--arch", "gated", "--latent-dim", LATENT]
    options = ["--top-latent-dim", TOP, "--top-hidden", 8, "--pseudo-inputs", PSEUDO]
    trained = invoke(
        *tiny_train_args(small_mnist_npz, out, *model, *options, "--binarize", "dynamic")
    )
    assert trained.exit_code == 0, trained.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["options"] == {
        "top_latent_dim": TOP,
        "top_hidden": 8,
        "pseudo_inputs": PSEUDO,
    }
    sampled = invoke("sample", out, "--count", 4, "--out", tmp_path / "samples.png", "--quiet")
    assert sampled.exit_code == 0, sampled.output


def test_the_gated_encoder_leaves_its_outputs_unbounded_for_m2s_classifier():
    """m2 reads an encoder's outputs as class logits: only vamp2 bounds log-variances."""
    from mnist_vae.registry import encoders

    encoder = encoders.get("gated")(5)
    weights = [np.zeros_like(w) for w in encoder.get_weights()]
    weights[-1] = np.full_like(weights[-1], 9.0)  # far outside [-6, 2]
    encoder.set_weights(weights)
    np.testing.assert_array_equal(numpy(encoder(np.zeros((1, 28, 28, 1), "float32"))), 9.0)
    model = vamp2_model()
    weights = [np.zeros_like(w) for w in model.encoder.get_weights()]
    weights[-1] = np.full_like(weights[-1], 9.0)
    model.encoder.set_weights(weights)
    mean, log_variance = (
        numpy(v) for v in model.top_posterior(np.zeros((1, 28, 28, 1), "float32"))
    )
    np.testing.assert_array_equal(mean, 9.0)
    np.testing.assert_array_equal(log_variance, 2.0)


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ("encoder", "must output 2 \\* --top-latent-dim values"),
        ("decoder", "must read --latent-dim \\+ --top-latent-dim values"),
    ],
)
def test_a_plugin_network_of_the_wrong_size_is_refused_in_one_line(network, message):
    """vamp2's encoder is q(z2|x) and its decoder reads [z1, z2]: a plugin network built
    for --latent-dim alone is named, before any training."""
    from mnist_vae.errors import ConfigError
    from mnist_vae.registry import decoders, encoders

    def latent_only_encoder(latent_dim):
        images = keras.Input((28, 28, 1))
        stats = keras.layers.Dense(2 * LATENT)(keras.layers.Flatten()(images))
        return keras.Model(images, stats, name="latent_only")

    def latent_only_decoder(latent_dim):
        codes = keras.Input((LATENT,))
        logits = keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784)(codes))
        return keras.Model(codes, logits, name="latent_only")

    registry, builder = {
        "encoder": (encoders, latent_only_encoder),
        "decoder": (decoders, latent_only_decoder),
    }[network]
    with registry.temporary(builder, name="latent_only"):
        config = model_config(
            "gated",
            **{network: "latent_only"},
            strategy="vamp2",
            latent_dim=LATENT,
            options={"top_latent_dim": TOP, "top_hidden": 8, "pseudo_inputs": PSEUDO},
        )
        with pytest.raises(ConfigError, match=message) as error:
            build_model(config, seed=0)
    one_line_message(error, "'latent_only'")
