"""Every evaluation says which data and which judge measured it; other data never
takes the place of a run's own evaluation, and a judge of other data is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.data import ENV_VAR, MnistData, data_label, load_mnist, same_data
from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.data.sources.cache import write_npz_atomic
from mnist_vae.evaluation.reference import reference_classifier
from mnist_vae.models import model_config
from mnist_vae.training import train
from tests.helpers import FRUITS, drawn_figures, figure_text, invoke


@pytest.fixture(scope="module")
def mirrored_npz(small, tmp_path_factory):
    """Other data of the same shape: the small slice, every image mirrored left-right."""
    arrays = MnistArrays(
        small.x_train[:, :, ::-1], small.y_train, small.x_test[:, :, ::-1], small.y_test
    )
    return write_npz_atomic(tmp_path_factory.mktemp("other") / "mirrored.npz", arrays)


@pytest.fixture(scope="module")
def judge(quick_reference):
    return quick_reference


@pytest.fixture(scope="module")
def run(small, small_mnist_npz, tmp_path_factory):
    """A run trained through MNIST_VAE_DATA, as CI and many users train (no --data)."""
    config = RunConfig(
        model=model_config("net1"),  # evaluate draws its own figures
        train=TrainConfig(epochs=1, batch_size=50, train_size=200, figures=False),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_VAR, str(small_mnist_npz))
        return train(
            config, tmp_path_factory.mktemp("runs") / "net1", progress=False, report=lambda m: None
        )


def _arrays(x_train, y_train, x_test, y_test, source="test", canonical=False) -> MnistData:
    return MnistData(x_train, y_train, x_test, y_test, source, canonical)


def test_hashes_name_the_examples_not_their_order_or_source():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.arange(6) % 10
    a = _arrays(images, labels, images[:2], labels[:2], source="a.npz")
    b = _arrays(images[::-1], labels[::-1], images[1::-1], labels[1::-1], source="b")
    assert a.provenance["train_sha256"] == b.provenance["train_sha256"]
    assert same_data(a.provenance, b.provenance) is True
    relabelled = _arrays(images, (labels + 1) % 10, images[:2], labels[:2])
    assert same_data(a.provenance, relabelled.provenance) is False
    # Old records without hashes: canonical MNIST is still known, anything else is not.
    canonical = {**a.provenance, "canonical_mnist": True}
    assert same_data({"source": "x", "canonical_mnist": True}, canonical) is True
    assert same_data({"source": "x", "canonical_mnist": False}, a.provenance) is None
    assert same_data(None, a.provenance) is None
    assert data_label(canonical) == "MNIST"
    assert data_label(a.provenance) == f"a.npz ({a.provenance['test_sha256'][:8]})"
    assert data_label({"source": "MNIST_VAE_DATA=/some/where/f.npz"}) == "f.npz"


def test_a_run_trained_through_the_environment_records_its_data(run, small):
    recorded = run.record["data"]
    assert recorded["train_sha256"] == small.provenance["train_sha256"]
    assert recorded["test_sha256"] == small.provenance["test_sha256"]
    assert recorded["source"].startswith(f"{ENV_VAR}=")
    assert run.config.train.data is None  # the config stays portable; the record says what ran


def test_evaluating_on_whatever_the_variable_points_at_now_is_refused(
    run, mirrored_npz, monkeypatch
):
    before = (run.path / "metrics.json").read_text()
    monkeypatch.setenv(ENV_VAR, str(mirrored_npz))
    result = CliRunner().invoke(cli, ["evaluate", str(run.path), "--no-quality"])
    assert result.exit_code == 2, result.output
    assert "was trained on small.npz" in result.output and "--data" in result.output
    assert (run.path / "metrics.json").read_text() == before


def test_other_data_is_evaluated_beside_the_runs_own(
    run, judge, small, small_mnist_npz, mirrored_npz
):
    common = ["--iw-samples", "5", "--samples", "100"]
    own = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(run.path),
            *common,
            "--data",
            str(small_mnist_npz),
            "--reference-classifier",
            str(judge.path),
        ],
    )
    assert own.exit_code == 0, own.output
    metrics = json.loads((run.path / "metrics.json").read_text())
    evaluation = metrics["evaluation"]
    assert evaluation["data"]["test_sha256"] == small.provenance["test_sha256"]
    assert evaluation["data"]["trained_on_this_data"] is True
    assert evaluation["labelled_agreement_same_classes"] is True
    assert "labelled_agreement_note" not in evaluation
    recorded = evaluation["judge"]
    assert recorded["trained_on"]["train_sha256"] == small.provenance["train_sha256"]
    assert recorded["trained_on_this_data"] is True and recorded["file"] == "reference.keras"
    # The judge's accuracy is measured on this test set, not copied from its own file.
    measured = np.mean(np.argmax(judge.probabilities(small.x_test), axis=1) == small.y_test)
    assert recorded["test_accuracy"] == pytest.approx(measured)
    assert evaluation["reference_test_accuracy"] == recorded["test_accuracy"]
    assert (run.path / "figures" / "evaluation.png").stat().st_size > 0

    other = CliRunner().invoke(
        cli, ["evaluate", str(run.path), *common, "--no-quality", "--data", str(mirrored_npz)]
    )
    assert other.exit_code == 0, other.output
    assert "not the run's training data" in other.output
    after = json.loads((run.path / "metrics.json").read_text())
    assert after["evaluation"] == evaluation  # the run's own evaluation is untouched
    hash_prefix = load_mnist(mirrored_npz).provenance["test_sha256"][:12]
    beside = after[f"evaluation_on_{hash_prefix}"]
    assert beside["data"]["trained_on_this_data"] is False
    assert beside["data"]["source"] == str(mirrored_npz)
    assert (run.path / "figures" / f"evaluation_on_{hash_prefix}.png").exists()


def test_a_judge_of_other_data_is_refused_before_any_work(run, judge, mirrored_npz, tmp_path):
    foreign = tmp_path / "foreign.keras"
    shutil.copy(judge.path, foreign)
    info = json.loads(judge.path.with_suffix(".json").read_text())
    info["trained_on"] = {**info["trained_on"], "train_sha256": "0" * 64, "source": "fashion.npz"}
    foreign.with_suffix(".json").write_text(json.dumps(info))
    before = (run.path / "metrics.json").read_text()
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(run.path),
            "--data",
            str(run.record["data"]["source"].split("=", 1)[1]),
            "--reference-classifier",
            str(foreign),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "was trained on fashion.npz" in result.output
    assert "Traceback" not in result.output
    assert (run.path / "metrics.json").read_text() == before


def test_a_judge_that_does_not_say_what_it_learned_is_flagged(judge, small, tmp_path):
    silent = tmp_path / "silent.keras"
    shutil.copy(judge.path, silent)
    info = json.loads(judge.path.with_suffix(".json").read_text())
    del info["trained_on"]
    silent.with_suffix(".json").write_text(json.dumps(info))
    said = []
    loaded = reference_classifier(small, path=silent, report=said.append)
    assert loaded.trained_on is None
    assert any("does not record the data" in line for line in said)


def test_compare_names_each_rows_data_and_flags_a_mix(run, tmp_path):
    other = tmp_path / "other-run"
    shutil.copytree(run.path, other)
    record = json.loads((other / "config.json").read_text())
    record["data"] = {**record["data"], "test_sha256": "f" * 64, "source": "fashion.npz"}
    (other / "config.json").write_text(json.dumps(record))
    result = CliRunner().invoke(cli, ["compare", str(run.path), str(other), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["data"].startswith("small.npz") and rows[1]["data"] == "fashion.npz (ffffffff)"
    assert rows[0]["arch"] == "net1"
    assert "different data" in result.stderr
    alone = CliRunner().invoke(cli, ["compare", str(run.path)])
    assert "different data" not in alone.output


def test_a_sampler_is_never_fitted_to_other_data_than_the_runs(
    run, mirrored_npz, monkeypatch, tmp_path
):
    monkeypatch.setenv(ENV_VAR, str(mirrored_npz))
    result = CliRunner().invoke(
        cli, ["sample", str(run.path), "--sampler", "gmm", "--out", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 2, result.output
    assert "was trained on small.npz" in result.output
    assert not (run.path / "samplers").exists() and not (tmp_path / "s.png").exists()


def test_per_class_means_by_hand():
    from mnist_vae.evaluation.evaluation_figure import per_class_means

    means = per_class_means(np.array([1.0, 3.0, 10.0, 5.0]), np.array([0, 0, 2, 2]), classes=3)
    np.testing.assert_array_equal(means[[0, 2]], [2.0, 7.5])
    assert np.isnan(means[1])  # no image of class 1


def test_compare_draws_one_sheet_and_never_overwrites_it_unasked(run, tmp_path):
    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(cli, ["compare", str(run.path), str(run.path), "--out", str(sheet)])
    assert result.exit_code == 0, result.output
    assert sheet.stat().st_size > 0 and "-ELBO" in result.stdout
    again = CliRunner().invoke(cli, ["compare", str(run.path), "--out", str(sheet)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    wrong = CliRunner().invoke(cli, ["compare", str(run.path), "--out", str(tmp_path / "s.txt")])
    assert wrong.exit_code == 2 and ".png" in wrong.output


def test_which_classes_are_the_runs_by_hand(small):
    from mnist_vae.data.classes import KNOWN_DATASETS
    from mnist_vae.evaluation.provenance import class_agreement_note, same_classes

    fashion_mnist = next(known for known in KNOWN_DATASETS if known.name == "Fashion-MNIST")
    fashion = {
        **small.provenance,
        "train_sha256": "1" * 64,
        "test_sha256": "2" * 64,
        "dataset": "Fashion-MNIST",
        "digits": False,
        "class_names": list(fashion_mnist.names),
    }
    mnist = {
        **small.provenance,
        "train_sha256": "3" * 64,
        "test_sha256": "4" * 64,
        "canonical_mnist": True,
        "dataset": "MNIST",
        "digits": True,
    }
    bare = {**small.provenance, "train_sha256": "5" * 64}  # labels 0-9, nothing more said
    assert same_classes(small.provenance, small.provenance) is True  # the same data
    assert same_classes(mnist, fashion) is False  # MNIST's 4 is no "Coat"
    assert same_classes(mnist, {**mnist, "test_sha256": "6" * 64}) is True  # digits both
    assert same_classes(fashion, {**fashion, "train_sha256": "7" * 64}) is True  # same names
    assert same_classes(mnist, bare) is None and same_classes(None, bare) is None
    assert "are not this data's (Fashion-MNIST" in class_agreement_note(mnist, fashion)
    assert "are not known to be" in class_agreement_note(mnist, bare)
    assert class_agreement_note(mnist, mnist) is None
    # A run too old to record hashes or names counts as on its own data (as its key does).
    assert class_agreement_note({"source": "x.npz", "canonical_mnist": False}, bare) is None


@pytest.fixture(scope="module")
def other_classes(small, tmp_path_factory):
    """Other data with other classes, and a judge of it: the small slice's images under
    named classes, each image's label moved one on (its hashes differ from the slice's)."""
    names = FRUITS
    path = tmp_path_factory.mktemp("fruit") / "fruit.npz"
    np.savez(
        path,
        x_train=small.x_train,
        y_train=(small.y_train + 1) % 10,
        x_test=small.x_test,
        y_test=(small.y_test + 1) % 10,
        class_names=np.array(names),
    )
    judge = reference_classifier(
        load_mnist(path), path=path.with_name("judge.keras"), epochs=1, report=lambda m: None
    )
    return path, judge


def test_class_agreement_on_other_classes_says_so_in_its_numbers_and_figure(
    one_epoch_run, other_classes, tmp_path, monkeypatch
):
    from mnist_vae.evaluation import evaluation_figure

    run = tmp_path / "run"
    shutil.copytree(one_epoch_run("vae").path, run)  # evaluate writes into the run
    path, judge = other_classes
    figures = drawn_figures(monkeypatch, evaluation_figure)
    result = invoke(
        "evaluate",
        run,
        "--data",
        path,
        "--reference-classifier",
        judge.path,
        "--iw-samples",
        2,
        "--samples",
        100,
    )
    assert result.exit_code == 0, result.output
    assert "warning: class agreement by label number only" in result.output
    assert "not the run's classes" in result.output  # the table's row
    key = f"evaluation_on_{load_mnist(path).provenance['test_sha256'][:12]}"
    evaluation = json.loads((run / "metrics.json").read_text())[key]
    # Before: a bare labelled_agreement, as if the run's label 4 were this data's "elderberry".
    assert evaluation["labelled_agreement_same_classes"] is False
    assert "the run's classes (small.npz" in evaluation["labelled_agreement_note"]
    assert "are not this data's (fruit.npz" in evaluation["labelled_agreement_note"]
    (drawn,) = figures
    text = figure_text(drawn)
    assert "NOT the run's classes" in text and "label number" in text
    assert (run / "figures" / f"{key}.png").stat().st_size > 0


def test_compare_tells_data_by_its_arrays_and_marks_the_sheet(run, small, tmp_path, monkeypatch):
    from mnist_vae.evaluation import compare_sheet

    # The same arrays, recompressed under another name: the same data.
    copy = tmp_path / "recompressed.npz"
    np.savez_compressed(
        copy, x_train=small.x_train, y_train=small.y_train, x_test=small.x_test, y_test=small.y_test
    )
    same = tmp_path / "same-data"
    shutil.copytree(run.path, same)
    record = json.loads((same / "config.json").read_text())
    record["data"] = load_mnist(copy).provenance
    (same / "config.json").write_text(json.dumps(record))
    figures = drawn_figures(monkeypatch, compare_sheet)
    alike = invoke("compare", run.path, same, "--out", tmp_path / "alike.png")
    assert alike.exit_code == 0, alike.output
    # Before: "different data" here, the two files' names differing.
    assert "different data" not in alike.output
    assert "WARNING" not in figure_text(figures[-1])

    other = tmp_path / "other-data"
    shutil.copytree(run.path, other)
    record["data"] = {**record["data"], "test_sha256": "f" * 64}
    (other / "config.json").write_text(json.dumps(record))
    mixed = invoke("compare", run.path, other, "--out", tmp_path / "mixed.png")
    assert mixed.exit_code == 0, mixed.output
    assert "different data" in mixed.output
    # Before: the console warned, the saved picture did not.
    text = " ".join(figure_text(figures[-1]).split())  # the note is wrapped to the sheet
    assert "WARNING: these runs were trained and evaluated on different data" in text
    assert "data: recompressed.npz (ffffffff)" in text
    assert (tmp_path / "mixed.png").stat().st_size > 0


def test_a_relative_data_path_is_recorded_absolute_so_the_run_evaluates_anywhere(
    small_mnist_npz, tmp_path, monkeypatch
):
    monkeypatch.chdir(small_mnist_npz.parent)
    out = tmp_path / "run"
    trained = invoke(
        "train",
        "--arch",
        "net1",
        "--latent-dim",
        2,
        "--epochs",
        1,
        "--train-size",
        100,
        "--batch-size",
        50,
        "--data",
        small_mnist_npz.name,
        "--out",
        out,
        "--no-figures",
        "--quiet",
    )
    assert trained.exit_code == 0, trained.output
    record = json.loads((out / "config.json").read_text())
    # Before: "small.npz", which names nothing (or other data) from any other folder.
    for stored in (record["train"]["data"], record["data"]["source"]):
        assert Path(stored).is_absolute() and Path(stored).samefile(small_mnist_npz)
    monkeypatch.chdir(tmp_path)
    evaluated = invoke("evaluate", out, "--no-quality", "--iw-samples", 2)
    assert evaluated.exit_code == 0, evaluated.output
    own = json.loads((out / "metrics.json").read_text())["evaluation"]
    assert own["data"]["trained_on_this_data"] is True
