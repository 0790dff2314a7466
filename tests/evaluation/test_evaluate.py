"""``mnist-vae evaluate``, ``compare`` and ``benchmark augment`` end to end on small data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.evaluation.reference import reference_classifier
from mnist_vae.experiments.augment import split_halves
from tests.helpers import never_called


@pytest.fixture(scope="module")
def tiny_run(plain_training, tmp_path_factory):
    """A copy of the tiny net1 run (conftest's plain_training): evaluate writes into it.

    quick_reference (a judge trained for one epoch: the plumbing, not the judge) is
    conftest's too."""
    import shutil

    from mnist_vae.runs import load_run

    copy = tmp_path_factory.mktemp("runs") / "net1"
    shutil.copytree(plain_training[0].path, copy)
    return load_run(copy)


def test_reference_classifier_is_cached_with_its_accuracy(quick_reference, small):
    assert quick_reference.path.exists() and quick_reference.path.with_suffix(".json").exists()
    again = reference_classifier(
        small, path=quick_reference.path, report=lambda m: pytest.fail("retrained")
    )
    assert again.test_accuracy == quick_reference.test_accuracy
    features = again.features(small.x_test[:7])
    assert features.shape == (7, 256)
    np.testing.assert_allclose(again.probabilities(small.x_test[:7]).sum(axis=1), 1.0, rtol=1e-5)


def test_evaluate_writes_every_number_into_metrics(tiny_run, quick_reference, small_mnist_npz):
    args = [
        "evaluate",
        str(tiny_run.path),
        "--iw-samples",
        "20",
        "--samples",
        "200",
        "--reference-classifier",
        str(quick_reference.path),
        "--data",
        str(small_mnist_npz),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # Its progress (CliRunner is no terminal): plain lines on stderr, none on stdout.
    # --quiet's silence is test_progress's.
    shown = result.stderr.splitlines()
    for expected in (
        "judging the test images: started, 200 images",
        "IWAE bound, K=20: started, 200 images",
        "sample quality: started, 10,200 images",
    ):
        assert expected in shown, result.stderr
    assert [line for line in shown if line.startswith("IWAE bound, K=20: done, 200 images in")]
    assert [line for line in shown if line.startswith("sample quality: done, 10,200 images in")]
    assert "started" not in result.stdout and "done," not in result.stdout
    evaluation = json.loads((tiny_run.path / "metrics.json").read_text())["evaluation"]
    assert evaluation["iw_samples"] == 20 and evaluation["quality_samples"] == 200
    assert evaluation["iwae_negative_log_likelihood"] <= evaluation["negative_elbo"] + 1.0
    assert 0 < evaluation["pixel_mse"] < 0.25 and evaluation["pixel_bce"] > 0
    assert evaluation["frechet_distance"] > 0 and 0.1 <= evaluation["sample_confidence"] <= 1
    assert len(evaluation["labelled_agreement_by_digit"]) == 10
    table = CliRunner().invoke(cli, ["compare", str(tiny_run.path)]).output
    assert "-ELBO" in table and "IWAE" in table and "net1" in table


def test_binarized_evaluation_is_kept_apart(tiny_run, small_mnist_npz):
    args = [
        "evaluate",
        str(tiny_run.path),
        "--binarize",
        "--no-quality",
        "--iw-samples",
        "5",
        "--data",
        str(small_mnist_npz),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    metrics = json.loads((tiny_run.path / "metrics.json").read_text())
    assert metrics["evaluation_binarized"]["binarized"] == "threshold"
    assert "frechet_distance" not in metrics["evaluation_binarized"]
    rows = json.loads(CliRunner().invoke(cli, ["compare", str(tiny_run.path), "--json"]).output)
    assert rows[0]["bin. -ELBO"] == metrics["evaluation_binarized"]["negative_elbo"]


def test_split_halves_are_disjoint_stratified_and_seeded(small):
    a, b = split_halves(small, seed=0)
    assert len(a) == len(b) == 300 and not set(a) & set(b)
    np.testing.assert_array_equal(
        np.bincount(small.y_train[a], minlength=10) - np.bincount(small.y_train[b], minlength=10)
        <= 1,
        True,
    )
    assert not np.array_equal(np.sort(split_halves(small, seed=1)[0]), np.sort(a))


@pytest.mark.slow  # the default suite runs augment in test_augment_resumes_after_the_last_...
def test_quick_augment_benchmark_end_to_end(tmp_path, small_mnist_npz):
    from tests.helpers import data_out

    out = tmp_path / "augment"
    methods = "class-mean,cvae,filtered,encode-noise"
    options = ["--quick", "--fractions", "0.1", "--methods", methods, "--seeds", "0,1"]
    args = ["benchmark", "augment", *options, *data_out(small_mnist_npz, out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 2 * 5  # seeds x (real + 4 methods)
    rows = {(r["method"], r["fraction"]): r for r in results["summary"]}
    assert rows[("real", 0.1)]["n"] == 2 and "vs_real" in rows[("cvae", 0.1)]
    assert all(0 <= r["accuracy"] <= 1 for r in results["runs"])
    assert (out / "accuracy.png").stat().st_size > 5000 and (
        out / "results.csv"
    ).read_text().startswith("method,")
    assert {r["synthetic_images"] for r in results["runs"] if r["method"] == "cvae"} == {30}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--methods", "class-means"], "did you mean 'class_mean'"),
        (["--fractions", "0,0.5"], "fractions must be in (0, 1]"),
        (["--fractions", "a,b"], "not a comma-separated list"),
        (["--seeds", "1,1"], "seeds must be distinct"),
        (["--fractions", "0.2,0.2"], "fractions must be distinct, got 0.2,0.2"),
        (["--methods", "class-mean,class_mean"], "methods must be distinct"),
        (["--seeds", "-1"], "seeds must be 0 to 4294967295, got -1"),
        (["--seeds", "4294967296"], "seeds must be 0 to 4294967295, got 4294967296"),
        (["--seeds", ""], "give at least one seed"),
        (["--seeds", "0,,1"], "'0,,1' has an empty item: separate values by single commas"),
        (["--fractions", ""], "give at least one fraction, e.g. --fractions 0.5"),
        (["--fractions", "0.5,"], "'0.5,' has an empty item"),
        (["--arch", "net9"], "unknown architecture 'net9'"),
        (["--synthetic-count", "0"], "0 is not in the range x>=1"),
        (["--classifier", "lenett"], "did you mean 'lenet'"),
        (["--cvae-generator", "no-such-run"], "no-such-run"),
    ],
)
def test_augment_usage_errors(tmp_path, args, fragment, monkeypatch):
    import mnist_vae.data
    import mnist_vae.experiments

    for module, work in ((mnist_vae.experiments, "run_benchmark"), (mnist_vae.data, "load_mnist")):
        monkeypatch.setattr(module, work, never_called)  # refused before any of it
    result = CliRunner().invoke(cli, ["benchmark", "augment", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and fragment in result.output
    assert not (tmp_path / "o").exists()


def test_a_mistyped_or_unused_reference_classifier_is_refused_before_any_work(tiny_run, tmp_path):
    """A typo used to train a judge for minutes and save it at the typo."""
    typo = tmp_path / "refrence.keras"
    result = CliRunner().invoke(
        cli, ["evaluate", str(tiny_run.path), "--reference-classifier", str(typo)]
    )
    assert result.exit_code == 2 and "does not exist" in result.output, result.output
    assert not typo.exists()
    unused = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(tiny_run.path),
            "--no-quality",
            "--reference-classifier",
            str(tiny_run.path / "config.json"),
        ],
    )
    assert unused.exit_code == 2 and "drop --no-quality" in unused.output, unused.output
