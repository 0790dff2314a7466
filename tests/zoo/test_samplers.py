"""Latent samplers fitted after training: EM by hand, the second stage, the CLI, the export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_vae.errors import UnknownNameError, UsageError
from mnist_vae.evaluation.metrics import blank_fraction
from mnist_vae.models import build_model, model_config
from mnist_vae.models.latent_samplers import sample_codes, sampler_key
from mnist_vae.models.sampling import sample_digits
from mnist_vae.runs import load_run
from mnist_vae.zoo.samplers import GaussianMixtureSampler, SecondStageSampler
from tests.helpers import QUIET, assert_one_line_error, data_out, invoke, tflite_interpreter

# -- the Gaussian mixture -------------------------------------------------------------------


def test_em_recovers_two_clusters():
    rng = np.random.default_rng(1)
    first = rng.multivariate_normal([-3.0, 0.0], [[0.25, 0.1], [0.1, 0.5]], 3000)
    second = rng.multivariate_normal([3.0, 1.0], [[0.09, 0.0], [0.0, 0.16]], 1000)
    mixture = GaussianMixtureSampler(components=2).fit(np.concatenate([first, second]), seed=0)
    order = np.argsort(mixture.means[:, 0])
    np.testing.assert_allclose(mixture.weights[order], [0.75, 0.25], atol=0.01)
    np.testing.assert_allclose(mixture.means[order], [[-3.0, 0.0], [3.0, 1.0]], atol=0.05)
    np.testing.assert_allclose(mixture.covariances[order[0]], np.cov(first.T), atol=0.01)
    np.testing.assert_allclose(mixture.covariances[order[1]], np.cov(second.T), atol=0.01)
    assert mixture.fit_info["converged"]
    # Its samples come back in the same proportions and places.
    drawn = sample_codes(mixture, 4000, 3)
    right = drawn[:, 0] > 0
    assert abs(right.mean() - 0.25) < 0.03
    np.testing.assert_allclose(drawn[right].mean(axis=0), [3.0, 1.0], atol=0.05)
    np.testing.assert_allclose(drawn[~right].mean(axis=0), [-3.0, 0.0], atol=0.05)


def test_one_component_log_likelihood_is_the_gaussians():
    rng = np.random.default_rng(2)
    codes = rng.normal([1.0, -2.0, 0.5], [0.5, 2.0, 1.0], (500, 3))
    mixture = GaussianMixtureSampler(components=1).fit(codes, seed=0)
    mean = codes.mean(axis=0)
    covariance = np.cov(codes.T, bias=True) + mixture.regularization * np.eye(3)
    centred = codes - mean
    by_hand = -0.5 * (
        np.einsum("ni,ij,nj->n", centred, np.linalg.inv(covariance), centred)
        + np.log(np.linalg.det(2 * np.pi * covariance))
    )
    np.testing.assert_allclose(mixture.log_likelihood(codes), by_hand, rtol=1e-9, atol=1e-9)
    assert mixture.weights.tolist() == [1.0]


def test_em_is_seeded_and_survives_more_components_than_clusters():
    codes = np.random.default_rng(3).normal(0.0, 1.0, (60, 2))
    a = GaussianMixtureSampler(components=10).fit(codes, seed=4)
    b = GaussianMixtureSampler(components=10).fit(codes, seed=4)
    np.testing.assert_array_equal(a.means, b.means)
    assert np.all(np.isfinite(a.log_likelihood(codes)))
    assert np.all(np.linalg.eigvalsh(a.covariances) > 0)


# -- the second stage -----------------------------------------------------------------------


def test_second_stage_trains_on_tiny_codes_and_samples_their_shape():
    rng = np.random.default_rng(5)
    codes = rng.normal([4.0, -1.0, 0.0, 2.0], [1.0, 0.2, 3.0, 0.5], (256, 4)).astype("float32")
    codes[::2, 0] -= 8.0  # two clusters along the first axis: not one Gaussian
    sampler = SecondStageSampler(
        hidden=32, depth=2, epochs=10, batch_size=32, learning_rate=3e-3
    ).fit(codes, seed=1)
    info = sampler.describe()
    assert info["codes"] == 256 and info["latent_dim"] == 4
    assert info["final_loss"] < info["first_epoch_loss"]  # it learned something
    drawn = sample_codes(sampler, 500, 0)
    assert drawn.shape == (500, 4) and np.all(np.isfinite(drawn))
    # Decoded in the codes' own scale: the draws sit where the codes are.
    np.testing.assert_allclose(
        drawn.mean(axis=0), codes.mean(axis=0), atol=0.5 * codes.std(axis=0).max()
    )


def test_names_and_misuse():
    assert sampler_key("second-stage") == "second_stage"
    assert sampler_key("prior") == "prior"
    with pytest.raises(UnknownNameError, match="did you mean 'gmm'"):
        sampler_key("gmn")
    model = build_model(model_config("net1", strategy="cvae", latent_dim=2), seed=0)
    with pytest.raises(UsageError, match="unconditional"):
        sample_digits(model, 4, 0, sampler=GaussianMixtureSampler())
    images = np.zeros((4, 28, 28))
    images[1, :4, :4] = 1.0  # 16 lit pixels: not blank
    images[2, :2, :7] = 1.0  # 14: blank
    assert blank_fraction(images) == 0.75


# -- a real (tiny) run, through the command line -------------------------------------------


@pytest.fixture(scope="module")
def run_path(tmp_path_factory, small_mnist_npz):
    out = tmp_path_factory.mktemp("runs") / "net1"
    options = ["--arch", "net1", "--latent-dim", "3", "--epochs", "1", *QUIET]
    shape = ["--train-size", "300", "--batch-size", "100"]
    result = invoke("train", *options, *shape, *data_out(small_mnist_npz, out))
    assert result.exit_code == 0, result.output
    return out


def test_sample_fits_a_gmm_once_then_reuses_it(run_path, tmp_path):
    first = invoke(
        "sample", run_path, "--sampler", "gmm", "--count", "12", "--npy", tmp_path / "a.npy"
    )
    assert first.exit_code == 0, first.output
    assert "fitting the gmm sampler to 300 training codes" in first.output
    assert (run_path / "samples" / "gmm-s0.png").exists()
    record = json.loads((run_path / "samplers" / "gmm" / "sampler.json").read_text())
    assert record["sampler"] == "gmm" and record["codes"] == 300 and record["seed"] == 0
    again = invoke(
        "sample",
        run_path,
        "--sampler",
        "gmm",
        "--count",
        "12",
        "--npy",
        tmp_path / "b.npy",
        "--out",
        tmp_path / "b.png",
    )
    assert again.exit_code == 0, again.output
    assert "using the gmm sampler" in again.output and "fitting" not in again.output
    images = np.load(tmp_path / "a.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), images)
    assert images.shape == (12, 28, 28) and images.min() >= 0 and images.max() <= 1
    # The Python API draws the same images.
    run = load_run(run_path)
    want = sample_digits(run.load_model(), 12, 0, sampler=run.load_sampler("gmm"))
    np.testing.assert_allclose(images, want, atol=1e-6)
    refit = invoke(
        "sample",
        run_path,
        "--sampler",
        "gmm",
        "--refit",
        "--count",
        "12",
        "--out",
        tmp_path / "c.png",
    )
    assert refit.exit_code == 0 and "fitting the gmm sampler" in refit.output, refit.output


class FewEpochsSecondStage(SecondStageSampler):
    """The second stage in 4 epochs instead of 40: the command line's plumbing here; its
    fit is test_second_stage_trains_on_tiny_codes_and_samples_their_shape's."""

    def __init__(self, epochs: int = 4, **settings) -> None:
        super().__init__(epochs=epochs, **settings)


def test_sample_with_the_second_stage(run_path, tmp_path):
    from mnist_vae.registry import samplers

    with samplers.temporary(FewEpochsSecondStage, name="second_stage"):
        result = invoke(
            "sample",
            run_path,
            "--sampler",
            "second-stage",
            "--count",
            "8",
            "--npy",
            tmp_path / "s.npy",
            "--out",
            tmp_path / "s.png",
        )
    assert result.exit_code == 0, result.output
    assert "fitting the second-stage sampler" in result.output
    assert "second_stage" in load_run(run_path).fitted_samplers()
    assert load_run(run_path).sampler_record("second_stage")["epochs"] == 4
    images = np.load(tmp_path / "s.npy")
    assert images.shape == (8, 28, 28) and np.all(np.isfinite(images))


def test_sampler_usage_errors_are_one_line(run_path, tmp_path):
    assert_one_line_error(invoke("sample", run_path, "--sampler", "gmn"), 2, "did you mean 'gmm'")
    assert_one_line_error(
        invoke("sample", run_path, "--sampler", "gmm", "--digit", "3"), 2, "--digit"
    )
    assert_one_line_error(invoke("sample", run_path, "--refit"), 2, "not to the prior")


def test_exports_carry_the_fitted_samplers(run_path, tmp_path):
    import tensorflow as tf

    run = load_run(run_path)
    if "gmm" not in run.fitted_samplers():
        fitted = invoke("sample", run_path, "--sampler", "gmm", "--out", tmp_path / "g.png")
        assert fitted.exit_code == 0, fitted.output
    export = tmp_path / "export"
    assert invoke("export", run_path, "--out", export).exit_code == 0
    # The SavedModel's sample_NAME signatures (plain TensorFlow) match the run in Python.
    signatures = tf.saved_model.load(str(export)).signatures
    model = run.load_model()
    assert json.loads(signatures["metadata"]()["samplers"].numpy())["gmm"]["sampler"] == "gmm"
    for name in run.fitted_samplers():
        sampler = run.load_sampler(name)
        # Many draws: eager Box-Muller would differ by ~1e-4 from the graph's somewhere.
        served = signatures[f"sample_{name}"](count=tf.constant(2000), seed=tf.constant(7))
        np.testing.assert_allclose(served["z"], sample_codes(sampler, 2000, 7), atol=1e-6)
        want = sample_digits(model, 2000, 7, sampler=sampler)
        np.testing.assert_allclose(served["images"].numpy()[..., 0], want, atol=1e-5)
    # mnist-vae sample --saved-model uses them, and agrees with the run.
    npy = tmp_path / "e.npy"
    result = invoke(
        "sample",
        "--saved-model",
        export,
        "--sampler",
        "gmm",
        "--count",
        "12",
        "--npy",
        npy,
        "--out",
        tmp_path / "e.png",
    )
    assert result.exit_code == 0, result.output
    want = sample_digits(model, 12, 0, sampler=run.load_sampler("gmm"))
    np.testing.assert_allclose(np.load(npy), want, atol=1e-5)
    missing = invoke(
        "sample", "--saved-model", export, "--sampler", "flow", "--out", tmp_path / "f.png"
    )
    assert_one_line_error(missing, 2, "no 'flow' sampler")
    # TFLite carries them too, from builtin operations only.
    lite = invoke("export", run_path, "--out", tmp_path / "lite", "--format", "tflite")
    assert lite.exit_code == 0, lite.output
    interpreter = tflite_interpreter(tmp_path / "lite")
    assert {f"sample_{n}" for n in run.fitted_samplers()} <= set(interpreter.get_signature_list())
    drawn = interpreter.get_signature_runner("sample_gmm")(
        count=np.array(5, "int32"), seed=np.array(2, "int32")
    )
    np.testing.assert_allclose(drawn["z"], sample_codes(run.load_sampler("gmm"), 5, 2), atol=1e-5)
    want = sample_digits(model, 5, 2, sampler=run.load_sampler("gmm"))
    np.testing.assert_allclose(drawn["images"][..., 0], want, atol=1e-4)
