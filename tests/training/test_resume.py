"""Never lose a run: kill -9 and resume, concurrent writers, interrupted-run handling."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.errors import RunError, UsageError, WorkKeptError
from mnist_vae.io import locked_stage, training_stage_path
from tests.helpers import (
    CLI_SCRIPT,
    assert_last_line_error,
    assert_one_line_error,
    invoke,
    kill_when,
    nll_of_run,
    one_error_line,
    race_two_processes,
)

pytestmark = pytest.mark.faults


def train_args(data: Path, out: Path, epochs: int = 4, seed: int = 3) -> list[str]:
    return [
        "train",
        "--arch",
        "net1",
        "--train-size",
        "600",
        "--batch-size",
        "100",
        "--epochs",
        str(epochs),
        "--seed",
        str(seed),
        "--data",
        str(data),
        "--out",
        str(out),
        "--quiet",
        "--no-figures",
    ]


def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checkpointed_epochs(out: Path) -> list[int]:
    index = training_stage_path(out) / "checkpoint" / "checkpoint.json"
    try:
        return json.loads(index.read_text())["epochs"]
    except (OSError, ValueError):
        return []


def checkpoint_positions(out: Path) -> list[tuple[int, int]]:
    """(epochs done, steps of the next) of each kept checkpoint, oldest first."""
    index = training_stage_path(out) / "checkpoint" / "checkpoint.json"
    try:
        return [(c["epoch"], c["step"]) for c in json.loads(index.read_text())["checkpoints"]]
    except (OSError, ValueError):
        return []


def weights_of(run: Path) -> list[np.ndarray]:
    return keras.saving.load_model(run / "model.keras").get_weights()


@pytest.fixture(scope="module")
def killed_after_epoch_2(small_mnist_npz, tmp_path_factory) -> Path:
    """The stage ``kill -9`` leaves of ``train_args`` (4 epochs) killed after epoch 2.

    Made once: each test resumes or discards its own copy (``interrupted_at``). A stage
    holds nothing of its run's name, so a copy is that run interrupted.
    """
    killed = tmp_path_factory.mktemp("killed") / "run"
    process = spawn(train_args(small_mnist_npz, killed))
    kill_when(
        process, lambda: 2 in checkpointed_epochs(killed), "no checkpoint after epoch 2", poll=0.05
    )
    assert not killed.exists() and training_stage_path(killed).is_dir()
    return training_stage_path(killed)


@pytest.fixture(scope="module")
def uninterrupted(small_mnist_npz, tmp_path_factory) -> Path:
    """``train_args`` (4 epochs) trained without interruption: what resumed runs must equal."""
    whole = tmp_path_factory.mktemp("whole") / "run"
    assert CliRunner().invoke(cli, train_args(small_mnist_npz, whole)).exit_code == 0
    return whole


def assert_same_training(run: Path, whole: Path) -> None:
    """Bit-equal weights, and each epoch once in the log with the same numbers."""
    for ours, theirs in zip(weights_of(run), weights_of(whole), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    lines = (run / "history.csv").read_text().splitlines()
    assert lines == (whole / "history.csv").read_text().splitlines()


def interrupted_at(stage: Path, out: Path) -> Path:
    """``out`` as the killed run: a copy of ``stage`` where ``out``'s stage goes."""
    shutil.copytree(stage, training_stage_path(out))
    return out


def test_a_run_in_training_is_measured_at_its_newest_epoch_end_and_left_as_it_is(
    killed_after_epoch_2, small, small_mnist_npz, tmp_path
):
    """benchmark nll --run OUT while OUT trains: its epoch-2 weights, scored; the stage,
    which training may be writing meanwhile, byte for byte as it was."""
    from mnist_vae.config import RunConfig
    from mnist_vae.data import binarize_test_set, to_float_images
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
    from mnist_vae.models import build_model
    from mnist_vae.models.factory import build_optimizer

    killed = interrupted_at(killed_after_epoch_2, tmp_path / "killed")
    stage = training_stage_path(killed)
    before = {path: path.read_bytes() for path in stage.rglob("*") if path.is_file()}
    result = invoke(*nll_of_run(killed, 3, small_mnist_npz, tmp_path / "nll"))
    assert result.exit_code == 0, result.output
    assert "is not finished: measuring its newest checkpoint, after epoch 2 of 4" in result.output
    assert "2 of 4" in result.output  # the table's epochs
    row = json.loads((tmp_path / "nll" / "results.json").read_text())["rows"][0]
    assert (row["epochs"], row["in_progress"], row["planned_epochs"]) == (2, True, 4)
    assert {path: path.read_bytes() for path in stage.rglob("*") if path.is_file()} == before

    # The same number from the checkpoint loaded by hand into the model its config builds.
    config = RunConfig.from_dict(json.loads((stage / "training.json").read_text())["config"])
    model = build_model(config.model, seed=config.train.seed)
    model.compile(optimizer=build_optimizer(config.train, 6))
    model.load_weights(stage / "checkpoint" / "epoch-2.weights.h5")
    images = to_float_images(binarize_test_set(small.x_test, config.train.binarize))
    nll = iwae_negative_log_likelihood(model, images, samples=3, seed=0)
    assert row["nll"] == pytest.approx(float(np.mean(nll)), abs=1e-4)

    # What reads only finished runs says what this one is, and what to do.
    sample = invoke("sample", killed, "--out", tmp_path / "s.png")
    assert_one_line_error(sample, 1, "is not finished", "train --resume", "benchmark nll --run")
    import fcntl

    held = os.open(stage, os.O_RDONLY)  # a training under way holds its stage's lock
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        training = invoke("evaluate", killed)
        assert_one_line_error(training, 1, "it is training now", "benchmark nll --run")
        assert "--resume" not in training.output  # it would only collide with the training
    finally:
        os.close(held)
    shutil.rmtree(stage / "checkpoint")  # no whole epoch yet
    early = invoke(*nll_of_run(killed, 3, small_mnist_npz, tmp_path / "early"))
    assert_last_line_error(early, 1, "no checkpoint after a whole epoch yet")
    assert not (tmp_path / "early").exists()
    (stage / "training.json").write_text("{not json")  # a damaged intent
    damaged = invoke(*nll_of_run(killed, 3, small_mnist_npz, tmp_path / "damaged"))
    assert_last_line_error(damaged, 1, "holds no readable training.json", "train --resume")
    assert not (tmp_path / "damaged").exists()


def test_a_run_killed_mid_training_resumes_to_the_uninterrupted_weights(
    killed_after_epoch_2, uninterrupted, tmp_path
):
    killed = interrupted_at(killed_after_epoch_2, tmp_path / "killed")
    assert not killed.exists() and training_stage_path(killed).is_dir()
    # The part before the kill trained (say) 1000 s: the checkpoint carries it over.
    state = training_stage_path(killed) / "checkpoint" / "epoch-2.seeds.npz"
    with np.load(state) as stored:
        arrays = {name: stored[name] for name in stored.files}
    assert 0 < arrays["elapsed_seconds"] < 300
    np.savez(state, **{**arrays, "elapsed_seconds": np.float64(1000.0)})

    resumed = CliRunner().invoke(cli, ["train", "--resume", str(killed), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.output and "after epoch 2 of 4" in resumed.output
    assert not training_stage_path(killed).exists()
    assert_same_training(killed, uninterrupted)  # epochs 0-3, once each
    # The run records the command that started it, not the resume: how to train it again.
    command = json.loads((killed / "config.json").read_text())["command"]
    assert "--resume" not in command and "train --arch net1" in command, command
    # Its training time is the whole training's: the 1000 s before the kill, and this part.
    seconds = json.loads((killed / "metrics.json").read_text())["train_seconds"]
    assert 1000 < seconds < 1300, seconds


def test_a_killed_overwrite_resumes_to_replace_the_earlier_run(
    killed_after_epoch_2, uninterrupted, tmp_path
):
    """train --overwrite killed beside OUT's finished run: --resume OUT finishes it and
    replaces that run, as the killed command would have; a stage that does not record
    --overwrite (an earlier version's) needs it given beside --resume."""
    for recorded in (True, False):
        out = tmp_path / f"recorded-{recorded}"
        shutil.copytree(uninterrupted, out)  # the earlier run, told apart by its history
        (out / "history.csv").write_text("the earlier run\n")
        interrupted_at(killed_after_epoch_2, out)
        intent = training_stage_path(out) / "training.json"
        started = json.loads(intent.read_text())
        assert started["overwrite"] is False  # the killed command had no --overwrite
        record = {**started, "overwrite": recorded}
        intent.write_text(json.dumps(record))
        extra = []
        if not recorded:
            refused = invoke("train", "--resume", out, "--quiet")
            assert_one_line_error(refused, 2, "pass --overwrite")
            assert (out / "history.csv").read_text() == "the earlier run\n"
            extra = ["--overwrite"]
        resumed = invoke("train", "--resume", out, *extra, "--quiet")
        assert resumed.exit_code == 0, resumed.output
        assert not training_stage_path(out).exists()
        assert_same_training(out, uninterrupted)


def test_a_resumed_run_may_end_at_other_epochs_and_trains_the_same_epochs(
    killed_after_epoch_2, uninterrupted, tmp_path
):
    """--resume OUT --epochs N: killed after 2 of 4 epochs, resumed to end after 3."""
    killed = interrupted_at(killed_after_epoch_2, tmp_path / "killed")
    intent = training_stage_path(killed) / "training.json"
    before = intent.read_text()
    for epochs, fragment in ((2, "already trained 2 epochs"), (1, "give more than 2")):
        refused = invoke("train", "--resume", killed, "--epochs", epochs, "--quiet")
        assert_one_line_error(refused, 2, f"--epochs {epochs}", fragment)
    assert intent.read_text() == before  # a refusal changes nothing
    other = invoke("train", "--resume", killed, "--epochs", 3, "--seed", 4, "--quiet")
    assert_one_line_error(other, 2, "(--epochs aside); drop --seed")

    resumed = invoke("train", "--resume", killed, "--epochs", 3, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    record = json.loads((killed / "config.json").read_text())
    assert record["train"]["epochs"] == 3
    assert "--epochs 3" in record["command"] and "--epochs 4" not in record["command"]
    lines = (killed / "history.csv").read_text().splitlines()
    assert lines == (uninterrupted / "history.csv").read_text().splitlines()[:4]  # 3 epochs


def test_a_refused_replan_is_one_line_in_a_real_process(killed_after_epoch_2, tmp_path):
    """Checking --epochs loads the checkpoint module (and with it TensorFlow): its
    start-up notices must not come before the one-line error."""
    killed = interrupted_at(killed_after_epoch_2, tmp_path / "killed")
    command = [sys.executable, "-m", "mnist_vae.cli.main", "train", "--resume", str(killed)]
    done = subprocess.run([*command, "--epochs", "1"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [one_error_line(done.stderr)], done.stderr


def test_replanned_epochs_are_recorded_for_the_next_resume_and_cosine_is_refused(
    killed_after_epoch_2, tmp_path
):
    from mnist_vae.config import RunConfig
    from mnist_vae.training.trainer import _record_replanned_epochs, replan_epochs, with_epochs

    killed = interrupted_at(killed_after_epoch_2, tmp_path / "killed")
    intent = training_stage_path(killed) / "training.json"
    stored = json.loads(intent.read_text())
    config = RunConfig.from_dict(stored["config"])
    longer = replan_epochs(config, killed, 7)
    assert longer.train.epochs == 7 and longer.model == config.model
    assert json.loads(intent.read_text()) == stored  # checks only: train records it
    _record_replanned_epochs(intent, longer)  # what train does once it holds the lock
    recorded = json.loads(intent.read_text())
    assert recorded["config"]["train"] == {**stored["config"]["train"], "epochs": 7}
    # The command says so too: it is how the run is trained again (a shipped card's).
    assert recorded["command"] == with_epochs(stored["command"], 7) != stored["command"]
    assert recorded["config"]["model"] == stored["config"]["model"]
    cosine = RunConfig.from_dict(
        {**stored["config"], "train": {**stored["config"]["train"], "lr_schedule": "cosine"}}
    )
    with pytest.raises(UsageError, match="cosine: its decay spans"):
        replan_epochs(cosine, killed, 7)


def test_replanned_epochs_need_an_epochs_end(killed_after_epoch_2, tmp_path, monkeypatch):
    """A checkpoint inside an epoch: its compiled calls were sized by the planned length."""
    from mnist_vae.config import RunConfig
    from mnist_vae.training import checkpoints
    from mnist_vae.training.trainer import replan_epochs

    killed = interrupted_at(killed_after_epoch_2, tmp_path / "killed")
    stored = json.loads((training_stage_path(killed) / "training.json").read_text())
    monkeypatch.setattr(checkpoints, "read_index", lambda folder: [checkpoints.Position(2, 3)])
    with pytest.raises(UsageError, match=r"inside an epoch \(epoch 2 and 3 steps\)"):
        replan_epochs(RunConfig.from_dict(stored["config"]), killed, 7)


@pytest.mark.parametrize("index", ["missing", "damaged"])
def test_a_lost_checkpoint_index_resumes_from_the_checkpoint_files(
    killed_after_epoch_2, uninterrupted, tmp_path, index
):
    out = interrupted_at(killed_after_epoch_2, tmp_path / "run")
    path = training_stage_path(out) / "checkpoint" / "checkpoint.json"
    if index == "missing":
        path.unlink()
    else:
        path.write_text('{"checkpoints": [{"epoch": 2, "st')  # a torn write
    resumed = CliRunner().invoke(cli, ["train", "--resume", str(out), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert f"checkpoint index {path} is {index}" in resumed.output
    assert "after epoch 2 of 4" in resumed.output  # not from step 0
    assert_same_training(out, uninterrupted)


def test_checkpoints_that_do_not_read_back_stop_the_run_and_are_kept(
    small_mnist_npz, killed_after_epoch_2, tmp_path
):
    out = interrupted_at(killed_after_epoch_2, tmp_path / "run")
    folder = training_stage_path(out) / "checkpoint"
    for weights in folder.glob("*.weights.h5"):
        weights.write_bytes(b"not an HDF5 file")
    kept = sorted(path.name for path in folder.iterdir())
    resumed = invoke("train", "--resume", out, "--quiet")
    assert_last_line_error(
        resumed, 1, "none of its checkpoints reads back", "epoch-2.weights.h5", "--restart"
    )
    assert sorted(path.name for path in folder.iterdir()) == kept

    for path in folder.iterdir():  # the files gone, and the index torn
        path.unlink()
    (folder / "checkpoint.json").write_text("{")
    again = invoke(*train_args(small_mnist_npz, out))
    assert_last_line_error(again, 1, f"{folder / 'checkpoint.json'} is damaged", "--restart")
    assert (training_stage_path(out) / "training.json").is_file() and not out.exists()


def test_a_damaged_training_json_beside_checkpoints_is_named_not_taken_for_nothing(
    small_mnist_npz, killed_after_epoch_2, tmp_path
):
    out = interrupted_at(killed_after_epoch_2, tmp_path / "run")
    stage = training_stage_path(out)
    intent = stage / "training.json"
    intent.write_text('{"config": {"model": {"archi')
    kept = sorted(path.name for path in (stage / "checkpoint").iterdir())
    for args in (["train", "--resume", out], train_args(small_mnist_npz, out)):
        result = invoke(*args)
        error = assert_one_line_error(result, 1, str(intent), "is damaged", "--restart")
        assert "nothing to resume" not in error
        assert sorted(path.name for path in (stage / "checkpoint").iterdir()) == kept
    fresh = invoke(*train_args(small_mnist_npz, out), "--restart")
    assert fresh.exit_code == 0 and "resuming" not in fresh.output, fresh.output


@pytest.mark.slow  # the in-process mid-epoch resume (test_checkpoint_interval) stays in make test
def test_a_run_killed_mid_epoch_loses_at_most_the_interval_and_resumes_bit_equal(
    small_mnist_npz, tmp_path
):
    """6 steps per epoch, a checkpoint every 2: killed mid-epoch, resumed mid-epoch."""
    every = ["--checkpoint-every-steps", "2"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert CliRunner().invoke(cli, [*train_args(small_mnist_npz, whole), *every]).exit_code == 0

    process = spawn([*train_args(small_mnist_npz, killed), *every])

    def mid_epoch() -> bool:
        return any(p[0] >= 1 and p[1] > 0 for p in checkpoint_positions(killed)[-1:])

    kill_when(process, mid_epoch, "no mid-epoch checkpoint after epoch 1")
    before, (epoch, step) = checkpoint_positions(killed)
    assert step > 0 and before == (epoch, step - 2)  # the newest two: 2 steps apart

    resumed = CliRunner().invoke(cli, ["train", "--resume", str(killed), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert f"after epoch {epoch} of 4 and {step}/6 steps of epoch {epoch + 1}" in resumed.output
    for ours, theirs in zip(weights_of(killed), weights_of(whole), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    lines = (killed / "history.csv").read_text().splitlines()
    assert lines == (whole / "history.csv").read_text().splitlines()  # the resumed epoch too


def test_two_trainings_into_one_out_give_one_result(small_mnist_npz, tmp_path):
    out = tmp_path / "run"
    processes = [spawn(train_args(small_mnist_npz, out, epochs=2)) for _ in range(2)]
    results = [(p.wait(), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    _, _, stderr = next(r for r in results if r[0] == 1)
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert sum("test negative ELBO" in r[1] for r in results) == 1
    assert (out / "model.keras").exists() and not training_stage_path(out).exists()


def _race(final: Path, barrier) -> None:
    barrier.wait()
    with locked_stage(final, overwrite=False) as (stage, _):
        (stage / "owner").write_text(str(os.getpid()))
        time.sleep(0.05)


def test_concurrent_writers_never_both_succeed_twenty_times(tmp_path):
    """The locking primitive itself, raced 20 times by two processes."""
    for attempt in range(20):
        final = tmp_path / f"out{attempt}"
        outcomes = race_two_processes(_race, final)
        assert outcomes[0] == "ok" and outcomes[1].startswith("refused"), outcomes
        assert (final / "owner").exists() and not training_stage_path(final).exists()


def test_a_stage_is_kept_after_an_interruption_and_dropped_after_a_usage_error(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), locked_stage(final, overwrite=False):
        raise KeyboardInterrupt
    assert training_stage_path(final).is_dir() and not final.exists()
    with pytest.raises(RunError), locked_stage(final, overwrite=False):
        raise RunError("diverged")
    assert not training_stage_path(final).exists() and not final.exists()


def test_a_stage_left_by_another_failure_is_kept_only_with_work_in_it(tmp_path):
    """Bad data or a bug before the first checkpoint leaves no "interrupted run"; after
    it, the checkpoints are kept; a full disk is an interruption either way."""
    final, work = tmp_path / "run", ("checkpoint",)
    stage = training_stage_path(final)
    with (
        pytest.raises(ValueError),
        locked_stage(final, overwrite=False, progress=work) as (folder, _),
    ):
        (folder / "training.json").write_text("{}")
        (folder / "checkpoint").mkdir()
        (folder / "checkpoint" / ".epoch-1.weights.h5").write_bytes(b"staging only")
        raise ValueError("labels out of range")
    assert not stage.exists()
    with pytest.raises(OSError), locked_stage(final, overwrite=False, progress=work):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert stage.is_dir()
    with pytest.raises(WorkKeptError), locked_stage(final, overwrite=False, progress=work):
        raise WorkKeptError("checkpoints unreadable")
    assert stage.is_dir()
    with (
        pytest.raises(ValueError),
        locked_stage(final, overwrite=False, progress=work) as (folder, _),
    ):
        (folder / "checkpoint").mkdir()
        (folder / "checkpoint" / "epoch-1.weights.h5").write_bytes(b"weights")
        raise ValueError("a bug in epoch 2")
    assert (stage / "checkpoint" / "epoch-1.weights.h5").is_file() and not final.exists()


def test_interrupted_runs_are_reported_resumed_or_discarded(
    small_mnist_npz, killed_after_epoch_2, tmp_path
):
    out = interrupted_at(killed_after_epoch_2, tmp_path / "run")
    other = CliRunner().invoke(cli, train_args(small_mnist_npz, out, seed=4))
    assert other.exit_code == 2, other.output
    assert "interrupted run" in other.output and "--resume" in other.output
    extra = CliRunner().invoke(cli, ["train", "--resume", str(out), "--batch-size", "9"])
    assert extra.exit_code == 2 and "drop --batch-size" in extra.output, extra.output
    nothing = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path / "nowhere")])
    assert nothing.exit_code == 2 and "nothing to resume" in nothing.output, nothing.output

    # The newest checkpoint corrupt (a full disk): reported, and the one before is used.
    folder = training_stage_path(out) / "checkpoint"
    assert checkpointed_epochs(out) == [1, 2]
    (folder / "epoch-2.weights.h5").write_bytes(b"not an HDF5 file")
    # Another checkpoint interval is the same training: resumed, not refused.
    same = CliRunner().invoke(
        cli, [*train_args(small_mnist_npz, out), "--checkpoint-every-steps", "3"]
    )
    assert same.exit_code == 0, same.output
    assert "checkpoint after epoch 2 is unreadable" in same.output
    assert "resuming" in same.output and "after epoch 1 of 4" in same.output
    assert (out / "model.keras").exists()
    # What only resuming needed is not part of the finished run.
    assert not (out / "checkpoint").exists() and not (out / "training.json").exists()

    again = interrupted_at(killed_after_epoch_2, tmp_path / "again")
    fresh = CliRunner().invoke(cli, [*train_args(small_mnist_npz, again, seed=5), "--restart"])
    assert fresh.exit_code == 0 and "resuming" not in fresh.output, fresh.output


def test_a_command_made_to_train_other_epochs():
    from mnist_vae.training.trainer import with_epochs

    assert with_epochs("mnist-vae train --epochs 1000 --seed 0", 600) == (
        "mnist-vae train --epochs 600 --seed 0"
    )
    assert with_epochs("mnist-vae train --epochs=5 --out 'my runs/a'", 7) == (
        "mnist-vae train --epochs=7 --out 'my runs/a'"
    )
    assert with_epochs("mnist-vae train --arch mlp", 3) == "mnist-vae train --arch mlp --epochs 3"
