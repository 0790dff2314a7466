"""``m1_m2``, M2 on the codes of a VAE (Kingma et al. 2014's M1+M2): the stacked bounds
by hand, a frozen M1 staying as trained, and the CLI with a trained M1 run."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_vae.config import NUM_CLASSES
from mnist_vae.runs import load_run
from mnist_vae.zoo.strategies.m1_m2 import M1M2, gaussian_nll
from tests.helpers import invoke, record_bound_rows

CODE, LATENT = 3, 2  # z1 (M1's code) and z2 (M2's latent) sizes: distinct on purpose
LOG_TWO_PI = np.log(2 * np.pi)


def affine_network(
    input_shape: tuple, units: int, name: str, rng, scale: float, output_shape=None
) -> keras.Model:
    """[flatten ->] one dense layer of seeded weights [-> reshape]: easy to follow by hand."""
    layers = [keras.Input(input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    layers.append(keras.layers.Dense(units))
    if output_shape is not None:
        layers.append(keras.layers.Reshape(output_shape))
    network = keras.Sequential(layers, name=name)
    dense = next(layer for layer in network.layers if isinstance(layer, keras.layers.Dense))
    kernel, bias = dense.get_weights()
    dense.set_weights(
        [
            rng.normal(0.0, scale, kernel.shape).astype("float32"),
            rng.normal(0.0, 0.1, bias.shape).astype("float32"),
        ]
    )
    return network


def tiny_m1_m2() -> M1M2:
    rng = np.random.default_rng(0)
    m1_encoder = affine_network((28, 28, 1), 2 * CODE, "m1_encoder", rng, 0.02)
    m1_decoder = affine_network((CODE,), 784, "m1_decoder", rng, 0.5, output_shape=(28, 28, 1))
    encoder = affine_network((CODE + NUM_CLASSES,), 2 * LATENT, "code_encoder", rng, 0.3)
    decoder = affine_network((LATENT + NUM_CLASSES,), 2 * CODE, "code_decoder", rng, 0.3)
    classifier = affine_network((CODE,), NUM_CLASSES, "code_classifier", rng, 1.0)
    return M1M2(encoder, decoder, classifier, m1_encoder, m1_decoder, latent_dim=LATENT, seed=0)


def weights(network) -> tuple[np.ndarray, np.ndarray]:
    dense = next(layer for layer in network.layers if isinstance(layer, keras.layers.Dense))
    kernel, bias = dense.get_weights()
    return kernel.astype(np.float64), bias.astype(np.float64)


def fix_noise(model, monkeypatch, noise1: np.ndarray, noise2: np.ndarray) -> None:
    """z1 = mean + sigma * noise1[b]; z2 = mean + sigma * noise2[b * 10 + y] for code b under
    label y, whichever (code, label) rows a step computes (``bound_rows``)."""
    chosen = record_bound_rows(model, monkeypatch)

    def draw(mean, log_variance):
        if mean.shape[-1] == CODE:
            noise = noise1.astype("float32")
        else:
            noise = keras.ops.take(noise2.astype("float32"), chosen["index"], axis=0)
        return mean + keras.ops.exp(0.5 * log_variance) * noise

    monkeypatch.setattr(model, "sampler", draw)


def numpy_stacked_bounds(model, images, noise1, noise2):
    """Per image: -log p(x|z1) + log q(z1|x), L(z1, y) for each y, and q(y|z1), in float64."""
    (w1e, b1e), (w1d, b1d) = weights(model.m1_encoder), weights(model.m1_decoder)
    (we, be), (wd, bd), (wc, bc) = (
        weights(model.encoder),
        weights(model.decoder),
        weights(model.classifier),
    )
    m1_costs, labelled, posteriors = [], np.zeros((len(images), NUM_CLASSES)), []
    for b, image in enumerate(images.astype(np.float64)):
        x = image.reshape(-1)
        stats = x @ w1e + b1e
        mean1, log_var1 = stats[:CODE], stats[CODE:]
        z1 = mean1 + np.exp(0.5 * log_var1) * noise1[b]
        log_q_z1 = -0.5 * np.sum(noise1[b] ** 2 + log_var1 + LOG_TWO_PI)
        p = 1 / (1 + np.exp(-(z1 @ w1d + b1d)))
        nll = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
        m1_costs.append(nll + log_q_z1)
        for y in range(NUM_CLASSES):
            one_hot = np.eye(NUM_CLASSES)[y]
            stats2 = np.concatenate([z1, one_hot]) @ we + be
            mean2, log_var2 = stats2[:LATENT], stats2[LATENT:]
            z2 = mean2 + np.exp(0.5 * log_var2) * noise2[b * NUM_CLASSES + y]
            out = np.concatenate([z2, one_hot]) @ wd + bd
            mu, log_var = out[:CODE], out[CODE:]
            code_nll = 0.5 * np.sum((z1 - mu) ** 2 / np.exp(log_var) + log_var + LOG_TWO_PI)
            kl = 0.5 * np.sum(np.exp(log_var2) + mean2**2 - 1 - log_var2)
            labelled[b, y] = code_nll + np.log(NUM_CLASSES) + kl
        logits = z1 @ wc + bc
        q = np.exp(logits - logits.max())
        posteriors.append(q / q.sum())
    return np.array(m1_costs), labelled, np.array(posteriors)


def test_stacked_bounds_equal_a_hand_computation(two_images, monkeypatch):
    """-log p(x) <= -log p(x|z1) + log q(z1|x) + sum_y q(y|z1) L(z1, y) - H(q(y|z1))."""
    model = tiny_m1_m2()
    rng = np.random.default_rng(2)
    noise1 = rng.standard_normal((2, CODE))
    noise2 = rng.standard_normal((2 * NUM_CLASSES, LATENT))
    fix_noise(model, monkeypatch, noise1, noise2)
    m1_cost, labelled, q = numpy_stacked_bounds(model, two_images, noise1, noise2)
    assert not np.allclose(q, 1 / NUM_CLASSES, atol=1e-2)  # the weighting matters here
    entropy = -np.sum(q * np.log(q), axis=1)
    unlabelled = m1_cost + np.sum(q * labelled, axis=1) - entropy

    terms = model.bound_terms(two_images, training=False)
    got = keras.ops.convert_to_numpy(terms["unlabelled_reconstruction"] + terms["unlabelled_kl"])
    np.testing.assert_allclose(got, unlabelled, rtol=1e-5)
    labels = np.array([4, 7], dtype="int32")
    terms = model.bound_terms(two_images, labels, training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(terms["labelled_bound"]),
        m1_cost + labelled[[0, 1], labels],
        rtol=1e-5,
    )

    # A mixed batch's objective: image 0 labelled 4, image 1 not; alpha times -log q(4|z1).
    terms = model.bound_terms(two_images, np.array([4, -1], dtype="int32"), training=False)
    expected = np.mean(
        [m1_cost[0] + labelled[0, 4], unlabelled[1]]
    ) + model.options.alpha * -np.log(q[0, 4])
    np.testing.assert_allclose(float(model.objective(terms)), expected, rtol=1e-5)


def test_split_code_encoder_gives_the_whole_encoders_loss_and_gradients(two_images, monkeypatch):
    """The code encoder's first layer split (z1's part once per code, the label's added)
    against the whole encoder on each (code, label) row: one objective, one gradient."""
    import tensorflow as tf

    model = tiny_m1_m2()
    assert model.condition_split().part == "dense"
    rng = np.random.default_rng(2)
    fix_noise(
        model,
        monkeypatch,
        rng.standard_normal((2, CODE)),
        rng.standard_normal((2 * NUM_CLASSES, LATENT)),
    )
    labels = np.array([4, -1], dtype="int32")
    variables = model.optimized_variables()

    def loss_and_gradients():
        with tf.GradientTape() as tape:
            loss = model.objective(model.bound_terms(two_images, labels, training=True))
        return float(loss), [g.numpy() for g in tape.gradient(loss, variables)]

    fast_loss, fast = loss_and_gradients()
    monkeypatch.setattr(model, "condition_split", lambda: None)
    whole_loss, whole = loss_and_gradients()
    assert fast_loss == pytest.approx(whole_loss, rel=1e-6)
    for a, b in zip(fast, whole, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def test_gaussian_nll_of_a_hand_case():
    values = np.array([[1.0, -2.0]], dtype="float32")
    stats = np.array([[0.5, 0.0, np.log(4.0), 0.0]], dtype="float32")  # means, log-variances
    expected = 0.5 * (0.25 / 4 + np.log(4.0) + LOG_TWO_PI) + 0.5 * (4.0 + LOG_TWO_PI)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gaussian_nll(values, stats)), [expected], rtol=1e-6
    )


def test_public_protocol_takes_images(two_images):
    model = tiny_m1_m2()
    predicted = keras.ops.convert_to_numpy(model.classify(two_images))
    z1 = keras.ops.convert_to_numpy(model.m1_posterior(two_images)[0])
    (wc, bc) = weights(model.classifier)
    np.testing.assert_array_equal(predicted, np.argmax(z1 @ wc + bc, axis=1))
    assert tuple(model.encode(two_images).shape) == (2, LATENT)
    assert tuple(model.sample(3, seed=0).shape) == (3, 28, 28, 1)
    terms = model.log_density_terms(two_images, None, 4, keras.random.SeedGenerator(0))
    assert {key: tuple(value.shape) for key, value in terms.items()} == {
        "log_likelihood": (4, 2),
        "log_prior": (4, 2),
        "log_posterior": (4, 2),
    }


def test_cli_trains_on_a_frozen_m1_run(tmp_path, small_mnist_npz, one_epoch_run):
    common = [
        "--arch",
        "mlp",
        "--latent-dim",
        4,
        "--epochs",
        1,
        "--batch-size",
        100,
        "--train-size",
        200,
        "--data",
        small_mnist_npz,
        "--quiet",
        "--no-figures",
    ]
    m1 = one_epoch_run("vae").path  # conftest's shared vae run: only read here
    stacked = tmp_path / "m1m2"
    result = invoke(
        "train", "--strategy", "m1_m2", "--m1-run", m1, "--labels", 100, *common, "--out", stacked
    )
    assert result.exit_code == 0, result.output
    run = load_run(stacked)
    model, trained_m1 = run.load_model(), load_run(m1).load_model()
    pairs = zip(model.m1_encoder.get_weights(), trained_m1.encoder.get_weights(), strict=True)
    for got, want in pairs:
        np.testing.assert_array_equal(got, want)  # frozen: as M1 was trained
    assert 0 <= run.metrics["test"]["classifier_error"] <= 1
    # evaluate reports the classifier beside the bounds, as train did.
    result = invoke("evaluate", stacked, "--no-quality", "--iw-samples", 2, "--quiet")
    assert result.exit_code == 0, result.output
    assert "classifier_error" in result.output
    evaluated = [v for k, v in load_run(stacked).metrics.items() if k.startswith("evaluation")]
    test_error = run.metrics["test"]["classifier_error"]
    assert evaluated[0]["classifier_error"] == pytest.approx(test_error)

    cvae = one_epoch_run("cvae").path  # conftest's shared cvae run: only read here
    for bad, fragment in ((cvae, "M1 must be an unconditional"), (m1, "likelihood")):
        extra = ["--likelihood", "gaussian"] if bad == m1 else []
        result = invoke(
            "train",
            "--strategy",
            "m1_m2",
            "--m1-run",
            bad,
            "--labels",
            100,
            *common,
            *extra,
            "--out",
            tmp_path / "bad",
        )
        assert result.exit_code == 2, result.output
        assert fragment in result.output and "Traceback" not in result.output
        assert not (tmp_path / "bad").exists()
