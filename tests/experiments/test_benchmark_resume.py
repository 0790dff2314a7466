"""Interrupted benchmarks resume at the step they reached, and give the same results."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import mnist_vae.evaluation.classifier_training as classifier_training
import mnist_vae.experiments.nll as nll_module
import mnist_vae.training
from mnist_vae.cli.main import cli
from mnist_vae.errors import RunError, UsageError
from mnist_vae.experiments import AugmentConfig, run_benchmark
from mnist_vae.experiments.nll import NllConfig, run_nll_benchmark
from mnist_vae.io import marks, training_stage_path, write_json_atomic
from mnist_vae.runs.interrupted import BENCHMARK, TRAINING, check_interrupted
from tests.helpers import benchmarks_without_run_figures, marked_stage

pytestmark = pytest.mark.faults


@pytest.fixture(autouse=True)
def without_run_figures(monkeypatch):
    benchmarks_without_run_figures(monkeypatch)


TIMING = {"seconds", "nll_seconds", "nll_decoder_passes_per_second", "train_seconds"}


def counted(monkeypatch, module, name: str, *, crash_at: int | None = None) -> list:
    """Count the calls of ``module.name``; raise KeyboardInterrupt (Ctrl-C) at call ``crash_at``."""
    calls, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        if len(calls) == crash_at:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def without_timing(value):
    if isinstance(value, dict):
        return {key: without_timing(item) for key, item in value.items() if key not in TIMING}
    if isinstance(value, list):
        return [without_timing(item) for item in value]
    return value


def steps_done(out: Path) -> list[str]:
    return sorted(p.stem for p in (training_stage_path(out) / "steps").glob("[!.]*.json"))


# One fraction: two steps (real only, then class means from the generator), which is
# all a resume needs: the generator trained before the Ctrl-C, one score kept, one not.
AUGMENT = AugmentConfig(fractions=(1.0,), methods=("class_mean",), seeds=(0,), quick=True)


def test_augment_resumes_after_the_last_finished_score(small, tmp_path, monkeypatch):
    whole = run_benchmark(AUGMENT, small, tmp_path / "whole", report=lambda message: None)

    out = tmp_path / "interrupted"
    with monkeypatch.context() as patch:  # Ctrl-C once the generator is trained, as the
        counted(patch, classifier_training, "train_classifier", crash_at=2)  # 2nd classifier
        trained = counted(patch, mnist_vae.training, "train")  # starts training
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(AUGMENT, small, out, report=lambda message: None)
    assert len(trained) == 1  # the generator was trained before the interruption
    assert not out.exists() and training_stage_path(out).is_dir()
    assert steps_done(out) == ["seed0-f1.0-real"]

    classifiers = counted(monkeypatch, classifier_training, "train_classifier")
    trainings = counted(monkeypatch, mnist_vae.training, "train")
    said = []
    resumed = run_benchmark(AUGMENT, small, out, report=said.append)
    assert said[0] == f"resuming {out}: 1 of 2 steps done", said
    assert len(classifiers) == 1 and trainings == []  # the generator was loaded, not retrained
    assert without_timing(resumed) == without_timing(whole)
    written = json.loads((out / "results.json").read_text())
    assert without_timing(written) == without_timing(
        json.loads((tmp_path / "whole" / "results.json").read_text())
    )
    assert not training_stage_path(out).exists()


def test_nll_resumes_after_the_last_finished_training_or_measurement(small, tmp_path, monkeypatch):
    quick = {"latent_dim": 4, "iw_samples": 20, "quick": True}
    whole = run_nll_benchmark(
        NllConfig(strategies=("vae",), **quick),
        small,
        tmp_path / "whole",
        report=lambda message: None,
    )
    (reference,) = whole["rows"]

    # Measure the run trained above, and train and measure another vae the same way;
    # Ctrl-C during the second measurement.
    config = NllConfig(strategies=("vae",), runs=(reference["run"],), **quick)
    out = tmp_path / "interrupted"
    with monkeypatch.context() as patch:
        counted(patch, nll_module, "measure_run", crash_at=2)
        with pytest.raises(KeyboardInterrupt):
            run_nll_benchmark(config, small, out, report=lambda message: None)
    assert steps_done(out) == ["measure-run0", "train-vae"]

    measurements = counted(monkeypatch, nll_module, "measure_run")
    trainings = counted(monkeypatch, mnist_vae.training, "train")
    said = []
    results = run_nll_benchmark(config, small, out, report=said.append)
    assert said[0] == f"resuming {out}: 2 of 3 steps done", said
    assert len(measurements) == 1 and trainings == []
    given, trained = results["rows"]
    assert without_timing(given) == without_timing(reference)
    assert trained["run"] == str(out / "runs" / "vae")  # where it is now, not the stage
    assert without_timing({**trained, "run": None}) == without_timing({**reference, "run": None})
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]


def test_other_settings_are_refused_until_restart_discards_the_interrupted_one(
    small, tmp_path, monkeypatch
):
    out = tmp_path / "augment"
    with monkeypatch.context() as patch:  # Ctrl-C as the generator starts training
        counted(patch, mnist_vae.training, "train", crash_at=1)
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(AUGMENT, small, out, report=lambda message: None)
    assert steps_done(out) == ["seed0-f1.0-real"]

    other = dataclasses.replace(AUGMENT, seeds=(1,))
    with pytest.raises(UsageError, match=r"other settings \(seeds\).*--restart"):
        run_benchmark(other, small, out)
    fewer = dataclasses.replace(small, x_test=small.x_test[:100], y_test=small.y_test[:100])
    with pytest.raises(UsageError, match=r"other settings \(data.test_sha256\).*--restart"):
        run_benchmark(AUGMENT, fewer, out)
    with pytest.raises(UsageError, match=r"other settings \(benchmark, .*--restart"):
        run_nll_benchmark(NllConfig(strategies=("vae",), quick=True), small, out)
    assert steps_done(out) == ["seed0-f1.0-real"]  # refusing kept it

    with monkeypatch.context() as patch:  # --restart: the earlier steps are gone
        counted(patch, classifier_training, "train_classifier", crash_at=1)
        with pytest.raises(KeyboardInterrupt):
            run_benchmark(other, small, out, restart=True, report=lambda message: None)
    assert steps_done(out) == []
    intent = json.loads((training_stage_path(out) / BENCHMARK.file).read_text())
    assert intent["config"]["seeds"] == [1]


def test_interrupted_work_is_continued_refused_or_discarded(tmp_path):
    out = tmp_path / "out"
    intent = {"config": {"a": 1, "b": {"c": [1, 2]}}}
    advice = "pass --restart to discard it"
    assert check_interrupted(out, BENCHMARK, intent, advice=advice) is False  # nothing there
    stage = training_stage_path(out)
    stage.mkdir()  # not marked as mnist-vae's (a user's, or an older version's): left alone
    (stage / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="no staging marker"):
        check_interrupted(out, BENCHMARK, intent, advice=advice, restart=True)
    assert (stage / "notes.txt").exists()
    (stage / "notes.txt").unlink()
    assert check_interrupted(out, BENCHMARK, intent, advice=advice) is False  # empty: no loss
    assert not stage.exists()
    marked_stage(stage, marks.TRAINING, out)
    assert check_interrupted(out, BENCHMARK, intent, advice=advice) is False  # nothing to resume
    assert not stage.exists()

    marked_stage(stage, marks.TRAINING, out)
    write_json_atomic(stage / BENCHMARK.file, {**intent, "command": "x"})
    assert (
        check_interrupted(out, BENCHMARK, {"config": {"a": 1, "b": {"c": (1, 2)}}}, advice=advice)
        is True
    )
    with pytest.raises(UsageError, match=r"interrupted benchmark .* \(a, b.c\) .*--restart"):
        check_interrupted(out, BENCHMARK, {"config": {"a": 2, "b": {"c": [1]}}}, advice=advice)
    with pytest.raises(UsageError, match=r"holds an interrupted benchmark .* not a run"):
        check_interrupted(out, TRAINING, intent, advice=advice)

    holder = os.open(stage, os.O_RDONLY)  # a writer at work in it (flock: per open file)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(RunError, match="being written by another mnist-vae process"):
            check_interrupted(out, BENCHMARK, intent, advice=advice, restart=True)
    finally:
        os.close(holder)
    assert stage.is_dir()  # not discarded while in use
    assert check_interrupted(out, BENCHMARK, intent, advice=advice, restart=True) is False
    assert not stage.exists()


def test_cli_benchmark_resumes_refuses_other_settings_and_restarts(
    small_mnist_npz, tmp_path, monkeypatch
):
    def args(out: Path, *more: str) -> list[str]:
        return [
            "benchmark",
            "augment",
            "--quick",
            "--fractions",
            "1.0",
            "--data",
            str(small_mnist_npz),
            "--out",
            str(out),
            *more,
        ]

    def interrupted(out: Path, *more: str, crash_at: int):
        with monkeypatch.context() as patch:  # Ctrl-C while classifier crash_at trains
            counted(patch, classifier_training, "train_classifier", crash_at=crash_at)
            return CliRunner().invoke(cli, args(out, *more))

    out = tmp_path / "augment"
    stopped = interrupted(out, crash_at=2)  # the real-only score kept, the generator trained
    assert stopped.exit_code in (1, 130) and not out.exists(), stopped.output

    other = CliRunner().invoke(cli, args(out, "--seeds", "1"))
    assert other.exit_code == 2, other.output
    errors = [line for line in other.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "interrupted benchmark" in errors[0], other.output
    assert "--restart" in errors[0] and "Traceback" not in other.output

    classifiers = counted(monkeypatch, classifier_training, "train_classifier")
    resumed = CliRunner().invoke(cli, args(out))
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming {out}: 1 of 2 steps done" in resumed.output
    assert len(classifiers) == 1 and (out / "results.json").exists()

    again = tmp_path / "again"
    interrupted(again, crash_at=1)
    restarted = interrupted(again, "--seeds", "1", "--restart", crash_at=1)
    assert restarted.exit_code in (1, 130) and "resuming" not in restarted.output
    intent = json.loads((training_stage_path(again) / BENCHMARK.file).read_text())
    assert intent["config"]["seeds"] == [1]  # the interrupted seed-0 benchmark was discarded
