"""The label-budget protocol, ``benchmark labels`` (alias ``benchmark augment --labels``)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.errors import UsageError
from mnist_vae.experiments.label_budget import (
    METHODS,
    PAPER_ERRORS,
    LabelBudgetConfig,
    code_classifier_accuracy,
    merge_results,
    summarise,
)
from tests.helpers import assert_one_line_error, benchmarks_without_run_figures, invoke


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"labels": (105,)}, "multiple of the 10 classes"),
        ({"labels": ()}, "at least one"),
        ({"labels": (100, 100)}, "distinct"),
        ({"methods": ("m3",)}, "unknown label-budget method"),
        ({"methods": ("m2", "m2")}, "methods must be distinct"),
        ({"seeds": (0, 0)}, "seeds must be distinct"),
        ({"arch": "nett1"}, "nett1"),
        ({"generator_epochs": 0}, "generator epochs"),
    ],
)
def test_bad_settings_are_one_line_usage_errors(changes, fragment):
    with pytest.raises(UsageError, match=fragment):  # ConfigError or UnknownNameError
        LabelBudgetConfig(**changes)


def test_summary_gives_error_mean_std_and_the_paired_gain_against_real():
    records = [
        {"seed": 0, "labels": 100, "method": "real", "accuracy": 0.80},
        {"seed": 1, "labels": 100, "method": "real", "accuracy": 0.70},
        {"seed": 0, "labels": 100, "method": "m2", "accuracy": 0.90},
        {"seed": 1, "labels": 100, "method": "m2", "accuracy": 0.84},
    ]
    rows = summarise(records, LabelBudgetConfig(labels=(100,), methods=("m2",)))
    real, m2 = rows
    assert (real["method"], real["n"]) == ("real", 2) and "vs_real" not in real
    assert real["error"] == pytest.approx(0.25)  # errors 0.20 and 0.30
    assert real["std"] == pytest.approx(np.std([0.2, 0.3], ddof=1))
    assert m2["error"] == pytest.approx(0.13)  # errors 0.10 and 0.16
    # The gains are 0.10 and 0.14 points of accuracy:
    assert m2["vs_real"]["mean_difference"] == pytest.approx(0.12)
    assert m2["vs_real"]["std_difference"] == pytest.approx(np.std([0.10, 0.14], ddof=1))


def fake_result(seeds, methods, accuracies, **changes) -> dict:
    """A label-budget results.json at 100 labels, as a run writes it (JSON round trip)."""
    import dataclasses

    config = LabelBudgetConfig(labels=(100,), seeds=tuple(seeds), methods=tuple(methods), **changes)
    runs = [
        {"seed": seed, "labels": 100, "method": method, "accuracy": accuracies[method][seed]}
        for seed in seeds
        for method in ("real", *methods)
    ]
    return json.loads(
        json.dumps(
            {
                "protocol": "label_budget",
                "config": dataclasses.asdict(config),
                "data": "mnist",
                "runs": runs,
                "summary": summarise(runs, config),
                "paper": PAPER_ERRORS,
                "seconds": 10.0,
            }
        )
    )


ACCURACIES = {"real": [0.80, 0.70, 0.75], "m2": [0.90, 0.84, 0.86], "m1_m2": [0.95, 0.9, 0.97]}


def test_merged_seed_runs_summarise_as_one_run_would(tmp_path):
    parts = [
        fake_result([0], ["m2"], ACCURACIES),
        fake_result([1, 2], ["m2"], ACCURACIES),
        fake_result([0, 1, 2], ["m1_m2"], ACCURACIES),
    ]
    merged = merge_results(parts, tmp_path / "merged")
    whole = fake_result([0, 1, 2], ["m2", "m1_m2"], ACCURACIES)
    assert merged["summary"] == whole["summary"]
    assert merged["config"]["seeds"] == (0, 1, 2) and merged["seconds"] == 30.0
    assert merged["config"]["methods"] == ("m2", "m1_m2")
    assert len(merged["runs"]) == 9  # real once per seed, though two runs measured it
    on_disk = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert on_disk["summary"] == json.loads(json.dumps(whole["summary"]))
    assert (tmp_path / "merged" / "error.png").stat().st_size > 0


@pytest.mark.parametrize(
    "parts, fragment",
    [
        ([fake_result([0], ["m2"], ACCURACIES)], "two or more"),
        (
            [
                fake_result([0], ["m2"], ACCURACIES),
                fake_result([1], ["m2"], ACCURACIES, generator_epochs=3),
            ],
            "generator_epochs",
        ),
        (
            [fake_result([0], ["m2"], ACCURACIES), fake_result([0], ["m2"], ACCURACIES)],
            "seed0-n100-m2 is in more than one",
        ),
        (
            [fake_result([0], ["m2"], ACCURACIES), fake_result([1], ["m1_m2"], ACCURACIES)],
            "do not cover 2 step(s)",
        ),
        ([fake_result([0], ["m2"], ACCURACIES), {"protocol": "halves"}], "not a label-budget"),
    ],
)
def test_merge_refuses_results_that_are_not_one_experiment(tmp_path, parts, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        merge_results(parts, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_cli_merge_writes_the_table_and_refuses_bad_input(tmp_path):
    paths = []
    for index, part in enumerate(
        [fake_result([0], ["m2"], ACCURACIES), fake_result([1], ["m2"], ACCURACIES)]
    ):
        paths.append(tmp_path / f"part{index}.json")
        paths[-1].write_text(json.dumps(part))
    result = CliRunner().invoke(
        cli, ["benchmark", "merge", *map(str, paths), "--out", str(tmp_path / "merged")]
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "m2" in result.output
    copy = tmp_path / "copy.json"
    copy.write_bytes(paths[0].read_bytes())
    again = CliRunner().invoke(
        cli, ["benchmark", "merge", str(paths[0]), str(copy), "--out", str(tmp_path / "other")]
    )
    assert again.exit_code == 2 and "more than one result" in again.output
    assert "Traceback" not in again.output and not (tmp_path / "other").exists()


def write_parts(folder, *parts) -> list:
    """Each part as ``folder/partN/results.json``, as runs side by side leave them."""
    paths = []
    for index, part in enumerate(parts):
        (folder / f"part{index}").mkdir()
        paths.append(folder / f"part{index}" / "results.json")
        paths[-1].write_text(json.dumps(part))
    return paths


def spoiled(part: dict, change) -> dict:
    """A deep copy of ``part`` with ``change(copy)`` applied: a damaged input."""
    copy = json.loads(json.dumps(part))
    change(copy)
    return copy


def _set(path: tuple, value):
    def change(part):
        target = part
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change, key",
    [
        (_set(("runs", 1, "accuracy"), float("nan")), "runs[1].accuracy is nan"),
        (_set(("runs", 1, "accuracy"), float("inf")), "runs[1].accuracy is inf"),
        (_set(("runs", 0, "accuracy"), "0.8"), "runs[0].accuracy is '0.8'"),
        (_set(("runs", 0, "accuracy"), 1.5), "runs[0].accuracy is 1.5"),
        (_set(("runs", 0, "accuracy"), KeyError), "runs[0].accuracy is None"),
        (_set(("runs", 1, "seed"), 7), "runs[1].seed is 7"),
        (_set(("runs", 1, "method"), "m3"), "runs[1].method is 'm3'"),
        (_set(("runs", 0), "step"), "runs[0] is not an object"),
        (_set(("runs",), KeyError), "runs (the measured steps) is missing"),
        (_set(("config", "seeds"), "1"), "config.seeds is '1'"),
        (_set(("config", "generator_epochs"), "ten"), "config holds a value of the wrong type"),
        (_set(("config",), KeyError), "config is missing"),
        (_set(("data",), KeyError), "data (where the images came from) is missing"),
        (_set(("seconds",), float("nan")), "seconds is nan"),
        (_set(("protocol",), "halves"), "not a label-budget result"),
    ],
)
def test_merge_refuses_a_damaged_input_naming_its_file_and_key(tmp_path, change, key):
    # Before: a NaN accuracy merged into a NaN gain with "p 0.000" (exit 0); a string,
    # a missing key or a step outside the result's config ended in a traceback.
    paths = write_parts(
        tmp_path,
        fake_result([0], ["m2"], ACCURACIES),
        spoiled(fake_result([1], ["m2"], ACCURACIES), change),
    )
    result = invoke("benchmark", "merge", *paths, "--out", tmp_path / "merged")
    assert_one_line_error(result, 2, f"{paths[1]}: ", key)
    assert not (tmp_path / "merged").exists()


def test_merge_never_writes_over_its_own_inputs(tmp_path):
    paths = write_parts(
        tmp_path, fake_result([0], ["m2"], ACCURACIES), fake_result([1], ["m2"], ACCURACIES)
    )
    before = paths[0].read_bytes()
    # Before: --overwrite replaced the folder part0 (its results.json with it) by the merge.
    for given in (paths[0].parent, paths[0]):
        into = invoke(
            "benchmark", "merge", given, paths[1], "--out", paths[0].parent, "--overwrite"
        )
        assert_one_line_error(into, 2, f"{given} is in --out", "choose another --out")
        assert paths[0].read_bytes() == before
        assert sorted(p.name for p in paths[0].parent.iterdir()) == ["results.json"]
    twice = invoke(
        "benchmark", "merge", paths[0], paths[0].parent, paths[1], "--out", tmp_path / "merged"
    )
    assert_one_line_error(twice, 2, "given twice")
    assert not (tmp_path / "merged").exists()


def test_merge_tells_the_data_by_its_hashes_not_its_source(tmp_path):
    identity = {"train_sha256": "a" * 64, "test_sha256": "b" * 64}
    first = {
        **fake_result([0], ["m2"], ACCURACIES),
        "data_identity": identity,
        "data": "--data /one/place/mnist.npz",
    }
    moved = {
        **fake_result([1], ["m2"], ACCURACIES),
        "data_identity": identity,
        "data": "MNIST_VAE_DATA=/another/copy.npz",
    }
    # Before: refused, the sources' names differing; the same images merge.
    merged = merge_results([first, moved], tmp_path / "merged")
    assert merged["config"]["seeds"] == (0, 1)
    assert merged["data_identity"] == identity
    other = {**moved, "data": first["data"], "data_identity": {**identity, "test_sha256": "c" * 64}}
    # Before: merged, the sources' names being equal; other images are refused.
    with pytest.raises(UsageError, match="result 2: measured on other data than result 1"):
        merge_results([first, other], tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_codes_that_separate_the_classes_are_classified_almost_perfectly():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(10, 8))
    labels = np.repeat(np.arange(10), 10)
    test_labels = np.repeat(np.arange(10), 30)
    codes = centres[labels] + rng.normal(size=(100, 8))
    test_codes = centres[test_labels] + rng.normal(size=(300, 8))
    # 200 steps of 10 codes (20 epochs): the same training as batches of 100, in a tenth
    # of the epochs, each of which costs Keras far more than its steps.
    assert (
        code_classifier_accuracy(
            codes, labels, test_codes, test_labels, seed=0, min_steps=200, batch_size=10
        )
        > 0.95
    )
    # Labels unrelated to the codes give chance, so the check above can fail.
    shuffled = rng.permutation(labels)
    assert (
        code_classifier_accuracy(
            codes, shuffled, test_codes, test_labels, seed=0, min_steps=200, batch_size=10
        )
        < 0.35
    )


def test_the_papers_figures_are_table_1s():
    assert PAPER_ERRORS["M2"] == {100: 11.97, 600: 4.94, 1000: 3.60, 3000: 3.92}
    assert PAPER_ERRORS["M1+M2"][100] == 3.33


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--labels", "105"], "multiple of the 10 classes"),
        (["--labels", "100", "--fractions", "0.5"], "--fractions belongs to the report's protocol"),
        (["--labels", "100", "--synthetic-count", "50"], "--synthetic-count belongs"),
        (["--labels", "100", "--methods", "class-mean"], "unknown label-budget method"),
        (["--generator-epochs", "3"], "--generator-epochs belongs to 'benchmark labels'"),
        (["--m1-m2-epochs", "3"], "--m1-m2-epochs belongs to 'benchmark labels'"),
    ],
)
def test_usage_errors_exit_2_in_one_line_before_any_work(tmp_path, args, fragment):
    result = CliRunner().invoke(
        cli, ["benchmark", "augment", *args, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["labels"], ["augment"]])
def test_labels_usage_errors_exit_2_in_one_line_before_any_work(tmp_path, command):
    result = invoke("benchmark", *command, "--labels", "100,100", "--out", tmp_path / "out")
    assert_one_line_error(result, 2, "label budgets must be distinct")
    assert not (tmp_path / "out").exists()


def test_benchmark_labels_runs_and_its_alias_gives_the_same(tmp_path, small_mnist_npz, monkeypatch):
    """'benchmark labels' end to end once; 'benchmark augment --labels' hands the same
    config and controls to the same runner, with the alias's note."""
    import mnist_vae.cli.benchmark_labels as labels_command

    benchmarks_without_run_figures(monkeypatch)
    tiny = [
        "--labels",
        "100",
        "--methods",
        "m1",
        "--quick",
        "--latent-dim",
        "4",
        "--data",
        small_mnist_npz,
    ]
    result = invoke("benchmark", "labels", *tiny, "--out", tmp_path / "labels")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "now 'benchmark labels'" not in result.output
    first = json.loads((tmp_path / "labels" / "results.json").read_text())
    assert first["protocol"] == "label_budget"
    assert [r["method"] for r in first["runs"]] == ["real", "m1"]
    assert sorted(p.name for p in (tmp_path / "labels").glob("[!.]*")) == [
        "error.png",
        "generators",
        "results.csv",
        "results.json",
    ]
    assert [p.name for p in (tmp_path / "labels" / "generators").iterdir()] == ["vae-seed0"]

    handed = []

    def recorded(name, runner, config, load, controls, **kwargs):
        handed.append((name, runner, config, controls, kwargs.get("note")))
        raise SystemExit(0)

    monkeypatch.setattr(labels_command, "run_benchmark_command", recorded)
    for command in ("labels", "augment"):
        stopped = invoke("benchmark", command, *tiny, "--out", tmp_path / "handed")
        assert stopped.exit_code == 0, stopped.output
    (*direct, direct_note), (*alias, note) = handed
    assert direct == alias and direct_note is None
    assert note == "note: 'benchmark augment --labels' is now 'benchmark labels' (the same flags)"


@pytest.mark.slow  # every method end to end: make test-all
def test_quick_label_budget_runs_every_method_and_repeats_exactly(tmp_path, small, small_mnist_npz):
    from tests.helpers import data_out

    out = tmp_path / "budget"
    options = ["--labels", "100", "--quick", "--latent-dim", "4"]
    args = ["benchmark", "augment", *options, *data_out(small_mnist_npz, out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"] == "label_budget"
    assert results["data_identity"] == {
        key: small.provenance[key]  # what merge compares
        for key in ("train_sha256", "test_sha256")
    }
    assert [r["method"] for r in results["runs"]] == ["real", *METHODS]
    for record in results["runs"]:
        assert record["labels"] == 100 and record["real_images"] == 100
        assert 0 <= record["accuracy"] <= 1
    digits = {r["method"]: r["synthetic_images"] for r in results["runs"]}
    assert digits["m2_digits"] == digits["cvae_digits"] == 10_000 and digits["m1"] == 0
    # The generators: an M1 VAE without labels, an m2 with 100 and a cvae on those alone.
    configs = {
        path.name: json.loads((path / "config.json").read_text())["train"]
        for path in (out / "generators").iterdir()
    }
    assert configs["vae-seed0"]["labels"] is None
    assert configs["m2-seed0-n100"]["labels"] == 100
    # The cvae trains on the 100 labelled images alone (repeated to make whole epochs).
    assert configs["cvae-seed0-n100"]["labels"] is None
    cvae_data = json.loads((out / "generators" / "cvae-seed0-n100" / "config.json").read_text())
    assert "the 100 labelled images of seed 0" in json.dumps(cvae_data)
    assert results["paper"] is None  # a slice of MNIST is not the paper's data
    assert (out / "error.png").stat().st_size > 0 and (out / "results.csv").is_file()
    assert "m2-digits" in result.output

    # Repeated, the same numbers: the M1 VAE, an m2 and the classifiers trained again
    # (two of the four generators: the others' seeding is the same code path).
    again = CliRunner().invoke(cli, [*args, "--methods", "m1,m2-digits", "--overwrite"])
    assert again.exit_code == 0, again.output
    repeated = json.loads((out / "results.json").read_text())["runs"]
    assert [r["method"] for r in repeated] == ["real", "m1", "m2_digits"]
    assert repeated == [r for r in results["runs"] if r["method"] in ("real", "m1", "m2_digits")]
