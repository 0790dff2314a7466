"""The VQ-VAE: quantisation, EMA codebook and autoregressive prior against hand computations."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.errors import ConfigError
from mnist_vae.models import build_model, model_config
from mnist_vae.zoo.strategies.vqvae import (
    CodePrior,
    VectorQuantizer,
    VqvaeOptions,
    code_perplexity,
    ema_codebook_update,
    made_masks,
    nearest_codes,
    restart_dead_codes,
    straight_through,
)
from tests.helpers import invoke, numpy, tflite_interpreter, tiny_train_args

# -- quantisation ---------------------------------------------------------------------


def test_each_vector_gets_its_nearest_code():
    codebook = np.array([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.5]], "float32")
    vectors = np.array([[0.1, -0.2], [0.9, 0.6], [-1.0, 0.4], [-0.9, 0.1], [5.0, 5.0]], "float32")
    # [-1.0, 0.4]: 1.16 to code 0, 1.04 to code 2; [-0.9, 0.1]: 0.82 to code 0, 1.37 to code 2
    np.testing.assert_array_equal(numpy(nearest_codes(vectors, codebook)), [0, 1, 2, 0, 1])


def test_the_straight_through_gradient_to_z_e_is_the_gradient_at_z_q():
    z_e = tf.constant([[0.3, -1.0, 2.0]])
    z_q = tf.constant([[0.5, -0.5, 1.0]])
    weights = tf.constant([[1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(z_e)
        z = straight_through(z_e, z_q)
        loss = tf.reduce_sum(weights * z**2)
    np.testing.assert_allclose(numpy(z), numpy(z_q), atol=1e-7)  # z_q forwards
    np.testing.assert_allclose(numpy(tape.gradient(loss, z_e)), 2 * weights * z_q, atol=1e-6)


def test_perplexity_counts_the_codes_in_use():
    assert float(code_perplexity(np.array([[0, 0], [1, 1]]), 4)) == pytest.approx(2.0)
    assert float(code_perplexity(np.array([0, 1, 2, 3]), 4)) == pytest.approx(4.0)
    assert float(code_perplexity(np.array([3, 3, 3]), 4)) == pytest.approx(1.0)
    # usage (1/2, 1/4, 1/4): entropy 1.5 log 2, perplexity 2^1.5
    assert float(code_perplexity(np.array([0, 0, 1, 2]), 4)) == pytest.approx(2**1.5, rel=1e-5)


# -- the EMA codebook ------------------------------------------------------------------


def test_one_ema_update_by_hand():
    counts = np.array([2.0, 0.0, 1.0], "float32")
    sums = np.array([[2.0, 2.0], [0.0, 0.0], [3.0, 0.0]], "float32")
    codebook = np.array([[1.0, 1.0], [5.0, 5.0], [3.0, 0.0]], "float32")
    vectors = np.array([[1.0, 3.0], [3.0, 1.0], [4.0, 0.0]], "float32")
    indices = np.array([0, 0, 2], "int32")
    new_counts, new_sums, new_codebook = ema_codebook_update(
        counts, sums, codebook, vectors, indices, decay=0.5, epsilon=0.1
    )
    # n = (2, 0, 1), batch sums ((4, 4), (0, 0), (4, 0)); N = 0.5 N + 0.5 n, m likewise
    np.testing.assert_allclose(numpy(new_counts), [2.0, 0.0, 1.0])
    np.testing.assert_allclose(numpy(new_sums), [[3.0, 3.0], [0.0, 0.0], [3.5, 0.0]])
    # Laplace: N~ = (N + 0.1) / (3 + 3 * 0.1) * 3 = (21/11, 1/11, 1); e = m / N~.
    # Code 1 was never assigned (N = 0) and keeps its vector.
    np.testing.assert_allclose(
        numpy(new_codebook), [[11 / 7, 11 / 7], [5.0, 5.0], [3.5, 0.0]], rtol=1e-6
    )


def test_restarted_codes_move_to_fresh_vectors_and_keep_their_counts():
    counts = np.array([2.0, 0.5, 1.0], "float32")
    sums = np.array([[2.0, 2.0], [1.0, 1.0], [3.0, 0.0]], "float32")
    codebook = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 0.0]], "float32")
    fresh = np.array([[9.0, 9.0], [-4.0, 6.0], [7.0, 7.0]], "float32")
    dead = np.array([False, True, False])
    new_sums, new_codebook = restart_dead_codes(counts, sums, codebook, fresh, dead)
    np.testing.assert_allclose(numpy(new_codebook), [[1, 1], [-4, 6], [3, 0]])
    np.testing.assert_allclose(numpy(new_sums), [[2, 2], [-2, 3], [3, 0]])  # fresh * N


def test_the_quantizer_layer_updates_and_restarts_in_one_step():
    layer = VectorQuantizer(3, 2, decay=0.5, restart_threshold=1.0, seed=0)
    layer.codebook.assign(np.array([[1.0, 1.0], [9.0, -9.0], [4.0, -1.0]], "float32"))
    vectors = np.array([[1.0, 3.0], [3.0, 1.0], [4.0, 0.0]], "float32")
    indices, quantised = layer(vectors)
    np.testing.assert_array_equal(numpy(indices), [0, 0, 2])
    np.testing.assert_allclose(numpy(quantised), [[1, 1], [1, 1], [4, -1]])
    restarted = layer.update(vectors, indices)
    # Counts from 0: N = 0.5 n = (1, 0, 0.5); divided by 1 - 0.5^1 the usage is n itself,
    # so only code 1 (no vectors) is below 1.0 and restarts at one of the batch's vectors.
    assert float(restarted) == 1.0
    np.testing.assert_allclose(numpy(layer.ema_counts), [1.0, 0.0, 0.5])
    codebook = numpy(layer.codebook)
    np.testing.assert_allclose(codebook[0], [2.0, 2.0], rtol=1e-4)  # m / N~ with N~ ~ N
    np.testing.assert_allclose(codebook[2], [4.0, 0.0], rtol=1e-4)
    assert any(np.array_equal(codebook[1], row) for row in vectors)
    np.testing.assert_allclose(numpy(layer.ema_sums)[1], [0.0, 0.0])  # fresh * N, N = 0


# -- the autoregressive prior -----------------------------------------------------------


def test_made_masks_let_code_i_see_only_earlier_codes():
    length, categories = 4, 3
    masks = made_masks(length, categories, [7, 5])
    reach = masks[0]
    for mask in masks[1:]:
        reach = (reach @ mask > 0).astype("float32")  # input unit -> output unit, any path
    group = np.repeat(np.arange(length), categories)
    allowed = group[:, None] < group[None, :]
    assert not np.any(reach.astype(bool) & ~allowed)
    assert reach[group == 0][:, group == length - 1].all()  # and the masks are not all zero


def randomised_prior(length: int, categories: int, seed: int = 0) -> CodePrior:
    prior = CodePrior(length, categories, hidden=16, layers=2, seed=seed)
    rng = np.random.default_rng(seed)
    for variable in prior.weights:  # away from the uniform start, so the tests bite
        variable.assign(rng.normal(0, 1.0, variable.shape).astype("float32"))
    return prior


def test_code_i_depends_only_on_codes_before_it():
    prior = randomised_prior(4, 3)
    codes = np.array([[0, 2, 1, 1]], "int32")
    base = numpy(prior(prior.one_hot(codes)))
    for position in range(4):
        changed = codes.copy()
        changed[0, position] = (codes[0, position] + 1) % 3
        logits = numpy(prior(prior.one_hot(changed)))
        np.testing.assert_array_equal(logits[:, : position + 1], base[:, : position + 1])
        if position < 3:
            assert not np.allclose(logits[:, position + 1 :], base[:, position + 1 :])


def test_the_prior_is_the_product_of_its_conditionals_and_sums_to_one():
    length, categories = 3, 3
    prior = randomised_prior(length, categories, seed=1)
    every = np.array(list(itertools.product(range(categories), repeat=length)), "int32")
    log_prob = numpy(prior.log_prob(every))
    for codes, got in zip(every, log_prob, strict=True):
        direct = 0.0
        for i in range(length):  # p(c_i | c_<i) from the prefix alone (later codes zeroed)
            prefix = np.zeros((1, length * categories), "float32")
            for j in range(i):
                prefix[0, j * categories + codes[j]] = 1.0
            logits = numpy(prior(prefix))[0, i].astype(np.float64)
            direct += logits[codes[i]] - math.log(np.exp(logits).sum())
        assert got == pytest.approx(direct, abs=1e-4)
    assert np.exp(log_prob.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-5)


def test_prior_samples_are_seeded_and_follow_the_prior():
    prior = randomised_prior(2, 3, seed=2)
    draws = numpy(prior.sample(30000, 5))
    np.testing.assert_array_equal(draws, numpy(prior.sample(30000, 5)))
    assert not np.array_equal(draws[:50], numpy(prior.sample(50, 6)))
    every = np.array(list(itertools.product(range(3), repeat=2)), "int32")
    expected = np.exp(numpy(prior.log_prob(every)))
    found = np.array([np.mean(np.all(draws == codes, axis=1)) for codes in every])
    np.testing.assert_allclose(found, expected, atol=0.012)


def test_an_untrained_prior_is_uniform():
    prior = CodePrior(3, 5, hidden=8, layers=1, seed=0)
    log_prob = numpy(prior.log_prob(np.array([[0, 1, 4], [2, 2, 2]], "int32")))
    np.testing.assert_allclose(log_prob, -3 * math.log(5), rtol=1e-6)


# -- the model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    options = {"codebook_size": 8, "code_dim": 2, "prior_hidden": 16}
    return build_model(model_config("net1", strategy="vqvae", latent_dim=6, options=options))


def test_codes_decode_sample_and_score_consistently(model, tiny_images):
    parameters = model.posterior_parameters(tiny_images)
    indices, z_q = numpy(parameters["indices"]), numpy(parameters["code"])
    assert indices.shape == (8, 3) and z_q.shape == (8, 6)
    codebook = numpy(model.quantizer.codebook)
    np.testing.assert_array_equal(z_q, codebook[indices].reshape(8, 6))
    np.testing.assert_array_equal(numpy(model.encode(tiny_images)), z_q)
    # decode snaps its input to the codebook: z_e and z_q decode alike
    np.testing.assert_allclose(model.decode(parameters["mean"]), model.decode(z_q), atol=1e-6)

    prior = numpy(model.sample_prior(5, 7))
    np.testing.assert_array_equal(prior, numpy(model.sample_prior(5, 7)))
    assert not np.array_equal(prior, numpy(model.sample_prior(5, 8)))
    assert all(any(np.array_equal(v, row) for row in codebook) for v in prior.reshape(-1, 2))

    reconstruction, kl = (numpy(t) for t in model.elbo_terms(tiny_images))
    np.testing.assert_allclose(kl, -numpy(model.code_prior.log_prob(indices)), rtol=1e-6)
    np.testing.assert_allclose(kl, 3 * math.log(8), rtol=1e-5)  # the untrained prior: uniform
    terms = model.log_density_terms(tiny_images, None, 3, keras.random.SeedGenerator(0))
    for k in range(3):
        np.testing.assert_allclose(numpy(terms["log_likelihood"][k]), -reconstruction, rtol=1e-6)
        np.testing.assert_allclose(numpy(terms["log_prior"][k]), -kl, rtol=1e-6)
    np.testing.assert_array_equal(numpy(terms["log_posterior"]), 0.0)
    np.testing.assert_allclose(model.prior_log_density(z_q), -kl, rtol=1e-6)


def test_a_training_step_updates_codebook_and_prior(tiny_images):
    options = {"codebook_size": 8, "code_dim": 2, "prior_hidden": 16}
    model = build_model(model_config("net1", strategy="vqvae", latent_dim=4, options=options))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = numpy(model.quantizer.codebook)
    logs = model.train_on_batch(tiny_images, return_dict=True)
    assert {"commitment", "perplexity", "prior_nll_per_code", "restarts"} <= set(logs)
    assert 1.0 <= logs["perplexity"] <= 8.0
    assert not np.array_equal(numpy(model.quantizer.codebook), before)
    assert float(model.quantizer.updates) == 1.0
    assert np.any(numpy(model.code_prior.output_bias) != 0)  # the prior got a gradient step


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"latent_dim": 5, "options": {"code_dim": 2}}, "5 is not a multiple of 2"),
        ({"latent_dim": 4, "beta": 2.0}, "leave --beta at 1"),
    ],
)
def test_impossible_settings_fail_in_one_line(config, message):
    with pytest.raises(ConfigError, match=message) as error:
        build_model(model_config("net1", strategy="vqvae", **config))
    assert "\n" not in str(error.value)


def test_ema_decay_must_be_below_one():
    with pytest.raises(ConfigError, match="--ema-decay must be below 1"):
        VqvaeOptions(ema_decay=1.0)


def test_distributed_training_is_refused(model):
    with pytest.raises(ConfigError, match="without --distribute"):
        model.check_distributable()


# -- end to end ------------------------------------------------------------------------------


def test_train_sample_and_export_from_the_cli(tmp_path, small_mnist_npz):
    from mnist_vae.runs import load_run

    def succeed(*args):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        return result

    out = tmp_path / "vqvae"
    model = ["--strategy", "vqvae", "--arch", "net1", "--latent-dim", 4]
    vq = ["--codebook-size", 16, "--prior-hidden", 32, "--lr", 0.002]
    succeed(*tiny_train_args(small_mnist_npz, out, *model, *vq))
    run = load_run(out)
    assert run.config.model.options["codebook_size"] == 16
    test = run.metrics["test"]
    assert np.isfinite(test["negative_elbo"])
    assert test["kl"] <= 2 * math.log(16) + 0.5  # the prior learnt something, or stayed uniform
    assert "perplexity" in run.history() and "restarts" in run.history()

    npy = tmp_path / "prior.npy"
    succeed("sample", out, "--count", 6, "--seed", 4, "--npy", npy, "--out", tmp_path / "p.png")
    model = run.load_model()
    np.testing.assert_allclose(np.load(npy), numpy(model.sample(6, seed=4))[..., 0], atol=1e-6)
    succeed("sample", out, "--digit", 3, "--count", 4, "--out", tmp_path / "three.png")

    succeed("export", out, "--out", tmp_path / "export")
    served = tf.saved_model.load(str(tmp_path / "export")).signatures
    sample = served["sample"](count=tf.constant(6), seed=tf.constant(4))["images"]
    np.testing.assert_allclose(numpy(sample), numpy(model.sample(6, seed=4)), atol=1e-5)
    images = np.load(small_mnist_npz)["x_test"][:5, ..., None].astype("float32") / 255.0
    encoded = served["encode"](images=tf.constant(images))
    np.testing.assert_array_equal(
        numpy(encoded["indices"]), numpy(model.posterior_parameters(images)["indices"])
    )

    succeed("export", out, "--format", "tflite", "--out", tmp_path / "lite")
    interpreter = tflite_interpreter(tmp_path / "lite")
    lite = interpreter.get_signature_runner("sample")
    drawn = lite(count=np.array(6, "int32"), seed=np.array(4, "int32"))["images"]
    np.testing.assert_allclose(drawn, numpy(model.sample(6, seed=4)), atol=1e-4)
