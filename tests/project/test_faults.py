"""Faults from outside: a full disk, read-only folders, names too long, killed writers.

Each failure must be one line on stderr with the right exit code, before any work
where it can be known then, and must leave nothing half-written where results go.
Killed writers' staging items are listed and removed by ``mnist-vae clean``; those
of live processes never are.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_vae import io as mio
from mnist_vae.io import marks
from tests.helpers import (
    CLI_SCRIPT,
    assert_one_line_error,
    data_out,
    invoke,
    marked_stage,
    one_error_line,
    staged_file_name,
    tiny_train_args,
)

pytestmark = pytest.mark.faults


def _drop_root_file_access() -> None:
    """In a child about to exec: without these capabilities root obeys file modes too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_cli(
    args,
    *,
    file_size: int | None = None,
    obey_modes: bool = False,
    timeout: float = 300,
    script: str = CLI_SCRIPT,
) -> subprocess.CompletedProcess:
    """``mnist-vae ARGS`` in a process of its own, optionally with a file-size limit
    (writes past it fail with EFBIG, as on a full disk) or, for root, obeying modes.
    ``script`` runs instead of the plain command line (it ends by calling it)."""

    def limit() -> None:
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if obey_modes and os.geteuid() == 0:
            _drop_root_file_access()

    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=timeout,
    )


# Several commands in one child process: each a CliRunner call, so the child pays
# TensorFlow's start-up once. Prints [{"returncode": ..., "stderr": ...}, ...].
COMMANDS = """
import json, sys
from click.testing import CliRunner
from mnist_vae.cli.main import cli
done = [CliRunner().invoke(cli, args) for args in json.loads(sys.argv[1])]
print(json.dumps([{"returncode": r.exit_code, "stderr": r.stderr} for r in done]))
"""


def run_cli_commands(commands: dict, *, obey_modes: bool = False) -> dict:
    """``run_cli`` for each named command, all in one process (where the point is the
    process's file access, not its start-up): name -> result with returncode, stderr."""
    import types

    names = list(commands)
    batch = json.dumps([[str(a) for a in commands[name]] for name in names])
    child = run_cli([batch], obey_modes=obey_modes, script=COMMANDS)
    assert child.returncode == 0, child.stderr
    results = json.loads(child.stdout.strip().splitlines()[-1])
    pairs = zip(names, results, strict=True)
    return {name: types.SimpleNamespace(**result) for name, result in pairs}


@pytest.fixture(scope="module")
def modes_obeyed(tmp_path_factory) -> None:
    """Skip unless a child of ours can be kept out of a read-only folder."""
    folder = tmp_path_factory.mktemp("probe")
    folder.chmod(0o555)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"import os; print(os.access({str(folder)!r}, os.W_OK))"],
            capture_output=True,
            text=True,
            preexec_fn=_drop_root_file_access if os.geteuid() == 0 else None,
        )
    finally:
        folder.chmod(0o755)
    if probe.stdout.strip() != "False":
        pytest.skip(f"cannot make a folder read-only for this user ({probe.stderr.strip()})")


@contextlib.contextmanager
def read_only(*folders: Path):
    """Every folder (and everything under it) read-only, for the block."""
    paths = [p for folder in folders for p in [folder, *folder.rglob("*")] if p.is_dir()]
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield
    finally:
        for path in paths:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def train_args(data: Path, out: Path) -> list:
    return tiny_train_args(data, out, "--arch", "net1", "--seed", 3)


@pytest.fixture(scope="module")
def tiny_run(small_mnist_npz, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = invoke(*train_args(small_mnist_npz, out))
    assert result.exit_code == 0, result.output
    return out


CLASSIFIER = ["--strategy", "classifier"]  # a run with an extra network: classifier.keras


@pytest.fixture(scope="module")
def tiny_classifier_run(small_mnist_npz, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny-classifier"
    result = invoke(*train_args(small_mnist_npz, out), *CLASSIFIER)
    assert result.exit_code == 0, result.output
    assert (out / "classifier.keras").is_file()
    return out


# -- stale staging items and mnist-vae clean -----------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from mnist_vae.io import locked_stage, staged_dir, staged_file, write_json_atomic
folder = Path(sys.argv[1])
with staged_dir(folder / "export", overwrite=False), staged_file(folder / "digits.png"), \\
        locked_stage(folder / "run", overwrite=False) as (stage, _):
    write_json_atomic(stage / "training.json", {"config": {}})
    print("holding", flush=True)
    time.sleep(300)
"""


DIGITS = staged_file_name(Path("digits.png"))  # .digits.TOKEN.partial.png


def _leftovers(folder: Path) -> None:
    """Staging items nobody holds: what kill -9 leaves."""
    marked_stage(folder / ".net1.abcd1234.partial", marks.PARTIAL, folder / "net1")
    (folder / ".net1.abcd1234.partial" / "model.keras").write_bytes(b"x" * 1940)
    (folder / DIGITS).write_bytes(b"x" * 10)
    marked_stage(folder / ".net2.training", marks.TRAINING, folder / "net2")
    (folder / ".net2.training" / "training.json").write_text("{}")


def _names(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


def test_clean_lists_removes_with_yes_and_never_touches_a_live_process(tmp_path):
    _leftovers(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        live = _names(tmp_path) - {".net1.abcd1234.partial", DIGITS, ".net2.training"}
        assert len(live) == 3 and ".run.training" in live

        listed = invoke("clean", tmp_path)
        assert listed.exit_code == 0, listed.output
        assert "pass --yes to remove them" in listed.output
        assert "--include-interrupted" in listed.output and "--resume" in listed.output
        assert not any(name in listed.output for name in live)  # in use: not listed
        assert ".net1.abcd1234.partial" in listed.output and "2.0 kB" in listed.output
        assert len(_names(tmp_path)) == 6  # nothing removed without --yes

        removed = invoke("clean", tmp_path, "--yes")
        assert removed.exit_code == 0, removed.output
        assert _names(tmp_path) == live | {".net2.training"}  # the resumable run is kept
        assert "kept 1 interrupted run" in removed.output

        everything = invoke("clean", tmp_path, "--yes", "--include-interrupted")
        assert everything.exit_code == 0, everything.output
        assert _names(tmp_path) == live  # the live process's items, untouched
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean-up code runs
        holder.wait()
    kinds = sorted(stage.kind for stage in mio.stale_stages(tmp_path))
    assert kinds == sorted([mio.PARTIAL_FOLDER, mio.PARTIAL_FILE, mio.INTERRUPTED])
    gone = invoke("clean", tmp_path, "--yes", "--include-interrupted")
    assert gone.exit_code == 0 and _names(tmp_path) == set(), gone.output


def test_clean_exit_codes(tmp_path, monkeypatch):
    assert invoke("clean", tmp_path).output.strip() == f"nothing to clean in {tmp_path}"
    one_error_line(missing := invoke("clean", tmp_path / "nowhere").output)
    assert invoke("clean", tmp_path / "nowhere").exit_code == 2 and "nowhere" in missing
    (tmp_path / "file").write_text("x")
    assert invoke("clean", tmp_path / "file").exit_code == 2

    _leftovers(tmp_path)

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    failed = invoke("clean", tmp_path, "--yes")
    assert failed.exit_code == 1
    assert "1 of 2 could not be removed" in one_error_line(failed.output)


def test_clean_leaves_alone_what_mnist_vae_did_not_mark(tmp_path):
    (tmp_path / ".photos.20241201.old").mkdir()  # a user's, named like an old swap folder
    (tmp_path / ".photos.20241201.old" / "beach.jpg").write_bytes(b"jpeg")
    (tmp_path / ".notes.training").mkdir()
    (tmp_path / ".notes.training" / "todo.txt").write_text("mine")
    (tmp_path / ".thesis.draft_v2.partial.tex").write_text("\\chapter{}")
    (tmp_path / ".run.abcd1234.partial").mkdir()  # staging of a version before the markers
    (tmp_path / ".run.abcd1234.partial" / "model.keras").write_bytes(b"x")
    _leftovers(tmp_path)
    theirs = {
        ".photos.20241201.old",
        ".notes.training",
        ".thesis.draft_v2.partial.tex",
        ".run.abcd1234.partial",
    }

    listed = invoke("clean", tmp_path)
    assert listed.exit_code == 0, listed.output
    for name in theirs:
        [line] = [line for line in listed.output.splitlines() if name in line]
        assert line.endswith("not recognised as mnist-vae's (no staging marker), left alone")
    assert "puts it back" not in listed.output
    assert "2 staging items (" in listed.output  # ours alone: .net1...partial, digits

    cleaned = invoke("clean", tmp_path, "--yes", "--include-interrupted")
    assert cleaned.exit_code == 0, cleaned.output
    assert _names(tmp_path) == theirs
    assert (tmp_path / ".photos.20241201.old" / "beach.jpg").read_bytes() == b"jpeg"
    assert (tmp_path / ".notes.training" / "todo.txt").read_text() == "mine"


def test_train_never_resumes_nor_deletes_a_training_folder_it_did_not_mark(
    small_mnist_npz, tmp_path
):
    (tmp_path / ".notes.training").mkdir()  # a user's
    (tmp_path / ".notes.training" / "todo.txt").write_text("mine")
    (tmp_path / ".net1.training").mkdir()  # an interrupted run of a version before markers
    (tmp_path / ".net1.training" / "training.json").write_text('{"config": {}}')
    attempts = [
        train_args(small_mnist_npz, tmp_path / "notes"),
        [*train_args(small_mnist_npz, tmp_path / "notes"), "--restart"],
        train_args(small_mnist_npz, tmp_path / "net1"),
        ["train", "--resume", tmp_path / "net1"],
    ]
    for args in attempts:
        result = invoke(*args)
        assert_one_line_error(
            result, 2, ".training is in the way", "no staging marker", "move it away"
        )
    assert _names(tmp_path) == {".notes.training", ".net1.training"}
    assert (tmp_path / ".notes.training" / "todo.txt").read_text() == "mine"
    assert _names(tmp_path / ".net1.training") == {"training.json"}


def test_an_earlier_versions_interrupted_run_is_still_resumed(small_mnist_npz, tmp_path):
    """A stage from before markers (its intent file, no marker) is taken up and marked,
    not refused: a user's interrupted run must not be lost on upgrade. An intent file
    without a run's config and command is no proof (the test above)."""
    from mnist_vae.io.marks import foreign_stage

    first = invoke(*train_args(small_mnist_npz, tmp_path / "a"))
    assert first.exit_code == 0, first.output
    record = json.loads((tmp_path / "a" / "config.json").read_text())
    stage = tmp_path / ".b.training"  # killed before its first checkpoint, by 0.3
    stage.mkdir()
    intent = {
        "config": {"model": record["model"], "train": record["train"]},
        "command": record["command"],
    }
    (stage / "training.json").write_text(json.dumps(intent))
    assert not foreign_stage(stage, "training", tmp_path / "b")
    again = invoke(*train_args(small_mnist_npz, tmp_path / "b"))
    assert again.exit_code == 0, again.output
    assert (tmp_path / "b" / "model.keras").is_file() and not stage.exists()


def test_overwrite_never_replaces_a_folder_with_files_mnist_vae_did_not_write(tiny_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')  # looks like a result's marker
    (mine / "thesis.tex").write_text("mine")
    result = invoke("export", tiny_run, "--out", mine, "--overwrite")
    assert_one_line_error(result, 2, str(mine), "(thesis.tex)", "did not write")
    assert _names(mine) == {"config.json", "thesis.tex"}

    export = tmp_path / "export"  # an export of ours, and a file the user put into it
    assert invoke("export", tiny_run, "--out", export).exit_code == 0
    (export / "notes.txt").write_text("mine")
    again = invoke("export", tiny_run, "--out", export, "--overwrite")
    assert_one_line_error(again, 2, str(export), "(notes.txt)", "move them out")
    (export / "notes.txt").unlink()
    replaced = invoke("export", tiny_run, "--out", export, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert (export / mio.RESULT_MANIFEST).exists() and (export / "saved_model.pb").exists()


def test_writers_mention_leftovers_in_one_note(tmp_path, tiny_run):
    _leftovers(tmp_path)
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an archive")
    trained = invoke("train", "--data", bad, "--out", tmp_path / "new")  # fails after checks
    notes = [line for line in trained.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: 2 abandoned staging items in {tmp_path} (from killed processes, "
        f"2.0 kB), and 1 interrupted run to resume or remove; see 'mnist-vae "
        f"clean {tmp_path}'"
    ], trained.output
    sampled = invoke("sample", tiny_run, "--count", 4, "--out", tmp_path / "four.png")
    assert sampled.exit_code == 0 and sampled.output.count("note: ") == 1, sampled.output
    quiet = invoke("sample", tiny_run, "--count", 4, "--out", tmp_path / "sub" / "x.png")
    assert "note:" not in quiet.output  # another folder: nothing to say


# -- a full disk ------------------------------------------------------------------------


def test_a_full_disk_stops_training_in_one_line_and_the_run_resumes(small_mnist_npz, tmp_path):
    out = tmp_path / "run"
    full = run_cli(train_args(small_mnist_npz, out), file_size=20_000)  # the checkpoint fails
    assert full.returncode == 1, full.stderr
    error = one_error_line(full.stderr)
    assert "file-size limit was hit" in error and "nothing was published" in error
    assert "resumes" in error
    assert not out.exists()
    stage = mio.training_stage_path(out)
    assert (stage / "training.json").exists()  # kept, as after any crash: resumable
    [interrupted] = mio.stale_stages(tmp_path)
    assert interrupted.kind == mio.INTERRUPTED and interrupted.target == out

    again = invoke(*train_args(small_mnist_npz, out))  # the same command, disk freed
    assert again.exit_code == 0, again.output
    assert (out / "model.keras").exists() and not stage.exists()


def test_a_full_disk_leaves_no_partial_sample(tiny_run, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    full = run_cli(
        ["sample", tiny_run, "--out", folder / "digits.png", "--npy", folder / "digits.npy"],
        file_size=5_000,
    )
    assert full.returncode == 1, full.stderr
    assert "file-size limit was hit" in one_error_line(full.stderr)
    assert _names(folder) == set()  # no image, no array, no staging file


# -- read-only folders: exit 2 before any work -------------------------------------------


def test_read_only_output_folders_fail_before_any_work(
    modes_obeyed, small_mnist_npz, tiny_run, tmp_path
):
    locked = tmp_path / "locked"
    locked.mkdir()
    commands = {
        "train": train_args(small_mnist_npz, locked / "run"),
        "sample": ["sample", tiny_run, "--out", locked / "digits.png"],
        "export": ["export", tiny_run, "--out", locked / "export"],
        "train --tensorboard": [
            *train_args(small_mnist_npz, tmp_path / "run"),
            "--tensorboard",
            locked / "logs",
        ],
    }
    with read_only(locked):
        results = run_cli_commands(commands, obey_modes=True)
    for name, result in results.items():
        assert result.returncode == 2, (name, result.stderr)
        assert "writable" in one_error_line(result.stderr), name
        assert "data:" not in result.stderr  # failed before loading anything
    assert f"{locked} is not writable" in results["train --tensorboard"].stderr
    assert _names(locked) == set() and _names(tmp_path) == {"locked"}


def test_a_read_only_run_fails_before_any_work_where_the_run_is_written(
    modes_obeyed, tiny_run, tmp_path
):
    out = tmp_path / "digits.png"
    commands = {
        "fit a sampler": ["sample", tiny_run, "--sampler", "gmm", "--out", out],
        "default --out": ["sample", tiny_run],
        "evaluate": ["evaluate", tiny_run, "--no-quality", "--iw-samples", "2"],
        "prior to elsewhere": ["sample", tiny_run, "--count", "4", "--out", out],
    }
    with read_only(tiny_run):
        results = run_cli_commands(commands, obey_modes=True)
    for name in ("fit a sampler", "default --out", "evaluate"):
        result = results[name]
        assert result.returncode == 2, (name, result.stderr)
        assert f"{tiny_run} is not writable" in one_error_line(result.stderr), name
        assert "data:" not in result.stderr and "fitting" not in result.stderr, name
    assert results["prior to elsewhere"].returncode == 0, results["prior to elsewhere"].stderr
    assert out.exists()  # a read-only run can still be sampled elsewhere
    assert not (tiny_run / "samplers").exists() and not (tiny_run / "samples").exists()


# -- usage errors found before any work ----------------------------------------------------


def test_a_name_too_long_fails_before_any_work(tiny_run, small_mnist_npz, tmp_path):
    name = "n" * 250  # fits NAME_MAX (255), but not once staged
    for args in (
        train_args(small_mnist_npz, tmp_path / name),
        ["sample", tiny_run, "--out", tmp_path / f"{name}.png"],
        ["export", tiny_run, "--out", tmp_path / name],
    ):
        started = time.perf_counter()
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "choose a shorter name" in one_error_line(result.output)
        assert "data:" not in result.output and time.perf_counter() - started < 10
    assert _names(tmp_path) == set()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (["--option", "classifier_weights=123"], "must be text, got 123"),
        (["--classifier-weights", "123"], "123: no such file"),
        (["--option", "classifier_weights=missing.keras"], "missing.keras: no such file"),
        (["--classifier-weights", "WEIGHTS_TXT"], "not a .keras or .weights.h5 file"),
    ],
)
def test_classifier_weights_are_checked_before_the_data_loads(
    small_mnist_npz, tmp_path, value, fragment
):
    text = tmp_path / "weights.txt"
    text.write_text("not weights")
    value = [str(text) if part == "WEIGHTS_TXT" else part for part in value]
    result = invoke(
        "train", "--strategy", "classifier", *value, *data_out(small_mnist_npz, tmp_path / "run")
    )
    assert result.exit_code == 2, result.output
    assert fragment in one_error_line(result.output)
    assert "data:" not in result.output and not (tmp_path / "run").exists()


# -- stopped while the finished run is written: every step continues ----------------------


class Killed(BaseException):
    """A kill at a chosen step, in-process: no handler of ours catches it, and what the
    step had written stays as a kill would leave it."""


def _no_space(path) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def _stop_writing(fault, path, content: bytes, staging: str | None = None):
    """The fault while ``path`` is written: a kill leaves ``content``, the file's start, in
    it (or in its folder's ``staging`` file); otherwise the disk is full."""
    if fault == "kill":
        Path(path).with_name(staging or Path(path).name).write_bytes(content)
        raise Killed
    raise _no_space(path)


def _fault_model_save(fault, network="model.keras"):
    """Stop while ``network`` is written: half a zip, then the kill (or no space)."""
    import keras

    saved = keras.Model.save

    def save(self, path, *args, **kwargs):
        if Path(path).name != network:
            return saved(self, path, *args, **kwargs)
        _stop_writing(fault, path, b"PK\x03\x04 half a model")

    return keras.Model, "save", save


def _fault_extra_network_save(fault):
    """Stop while a classifier run's ``classifier.keras`` is written, its model saved."""
    return _fault_model_save(fault, network="classifier.keras")


def _fault_metrics(fault):
    """Killed once the test metrics are computed (they write nothing: no full disk)."""
    from mnist_vae.training import trainer

    computed = trainer._final_metrics

    def metrics(*args, **kwargs):
        computed(*args, **kwargs)
        raise Killed

    return trainer, "_final_metrics", metrics


def _fault_figures(fault):
    """Stop at the last figure, the others drawn and a killed write's staging file left."""
    from mnist_vae.runs import figures

    def loss_curves(history, path):
        _stop_writing(fault, path, b"\x89PNG half", staging=".loss.abcd1234.partial.png")

    return figures, "save_loss_curves", loss_curves


def _fault_run_files(fault):
    """Stop at config.json, the run's other JSON files written, its staging file left."""
    from mnist_vae.runs import format as run_format

    write = run_format.write_json_atomic

    def write_json(path, data):
        if Path(path).name != "config.json":
            return write(path, data)
        _stop_writing(fault, path, b'{"mnist_vae_', staging=".config.abcd1234.partial.json")

    return run_format, "write_json_atomic", write_json


def _fault_rename(fault):
    """Killed just after the stage became the run (or no space for the rename itself)."""
    from mnist_vae.io import folders

    move = folders._move_into_place

    def move_into_place(staging, final):
        if fault != "kill":
            raise _no_space(final)
        move(staging, final)
        raise Killed

    return folders, "_move_into_place", move_into_place


def _fault_tidying(fault):
    """Killed after the run's checkpoints were removed from it, before its training.json."""
    rmtree = shutil.rmtree

    def remove(path, *args, **kwargs):
        rmtree(path, *args, **kwargs)
        if Path(path).name == "checkpoint" and not Path(path).parent.name.startswith("."):
            raise Killed

    return shutil, "rmtree", remove


# Each step of finishing a run, and the faults that can stop it there.
FINISHING = {
    "model": (_fault_model_save, ("kill", "full disk")),
    "extra networks": (_fault_extra_network_save, ("kill", "full disk")),
    "metrics": (_fault_metrics, ("kill",)),
    "figures": (_fault_figures, ("kill", "full disk")),
    "run files": (_fault_run_files, ("kill", "full disk")),
    "rename": (_fault_rename, ("kill", "full disk")),
    "tidying": (_fault_tidying, ("kill",)),
}


def assert_finished_like(out: Path, reference: Path, *, figures: bool) -> None:
    """``out`` is a complete run with ``reference``'s weights and test metrics, holding
    nothing of its staging: no scratch, no hidden file, and no stage beside it."""
    import keras
    import numpy as np

    from mnist_vae.runs import load_run

    run, expected = load_run(out), load_run(reference)
    assert run.metrics["test"] == expected.metrics["test"]
    networks = sorted(path.name for path in reference.glob("*.keras"))
    assert sorted(path.name for path in out.glob("*.keras")) == networks
    for network in networks:
        weights = keras.saving.load_model(out / network).get_weights()
        for ours, theirs in zip(
            weights, keras.saving.load_model(reference / network).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
    assert not (out / "checkpoint").exists() and not (out / "training.json").exists()
    hidden = [path for path in out.rglob(".*") if path.name != marks.RESULT_MANIFEST]
    assert not hidden, hidden  # no staging file of a stopped write: only the manifest
    assert (out / "figures" / "loss.png").is_file() == figures
    assert not mio.training_stage_path(out).exists()
    assert mio.stale_stages(out.parent) == []


# The default suite stops a run at the steps that broke before (figures/ made twice, a
# rename or a tidy cut short); ``make test-all`` at every step, with both faults.
FINISHING_DEFAULT = {
    ("figures", "kill"),
    ("rename", "kill"),
    ("rename", "full disk"),
    ("tidying", "kill"),
    ("run files", "kill"),
}


@pytest.mark.parametrize(
    ("step", "fault"),
    [
        (step, fault)
        if (step, fault) in FINISHING_DEFAULT
        else pytest.param(step, fault, marks=pytest.mark.slow)
        for step, (_, faults) in FINISHING.items()
        for fault in faults
    ],
)
def test_a_run_stopped_while_it_is_finished_continues(
    small_mnist_npz, tiny_run, tmp_path, monkeypatch, request, step, fault
):
    """A kill continues with the command run again; a full disk with --resume."""
    out = tmp_path / "run"
    figures = step == "figures"
    args = train_args(small_mnist_npz, out)
    args = [arg for arg in args if arg != "--no-figures"] if figures else args
    if step == "extra networks":
        args, tiny_run = [*args, *CLASSIFIER], request.getfixturevalue("tiny_classifier_run")
    with monkeypatch.context() as patched:
        patched.setattr(*FINISHING[step][0](fault))
        if fault == "kill":
            with pytest.raises(Killed):
                invoke(*args)
        else:
            full = invoke(*args)
            assert full.exit_code == 1, full.output
            error = one_error_line(full.output)
            assert "the disk is full" in error and "nothing was published" in error
            assert not out.exists()
            [interrupted] = mio.stale_stages(tmp_path)
            assert interrupted.kind == mio.INTERRUPTED and interrupted.target == out

    again = invoke(*args) if fault == "kill" else invoke("train", "--resume", out, "--quiet")
    assert again.exit_code == 0, again.output
    assert "Error" not in again.output and "Traceback" not in again.output, again.output
    assert_finished_like(out, tiny_run, figures=figures)


KILLED_AT = """
import os, signal, sys
from mnist_vae.io import folders
from mnist_vae.runs import figures

def kill(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

move = folders._move_into_place

def moved_then_killed(staging, final):
    move(staging, final)
    kill()

step = sys.argv.pop(1)
if step == "figures":
    figures.save_loss_curves = kill
else:
    folders._move_into_place = moved_then_killed
from mnist_vae.cli.main import cli; cli()
"""


@pytest.mark.parametrize("step", [pytest.param("figures", marks=pytest.mark.slow), "rename"])
def test_a_run_killed_9_while_it_is_finished_resumes(small_mnist_npz, tiny_run, tmp_path, step):
    out = tmp_path / "run"
    args = train_args(small_mnist_npz, out)
    args = [arg for arg in args if arg != "--no-figures"] if step == "figures" else args
    killed = run_cli([step, *args], script=KILLED_AT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if step == "figures":
        assert (mio.training_stage_path(out) / "figures").is_dir() and not out.exists()
    else:
        assert (out / "training.json").is_file() and not mio.training_stage_path(out).exists()

    resumed = invoke("train", "--resume", out, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert_finished_like(out, tiny_run, figures=step == "figures")
    again = invoke(*args)  # now a finished run: kept, as any existing --out
    assert again.exit_code == 2 and "exists and is not empty" in one_error_line(again.output)


# -- failures that are not interruptions leave no interrupted run ------------------------


def test_an_unwritable_tensorboard_folder_fails_before_any_work(small_mnist_npz, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    out = tmp_path / "run"
    result = invoke(*train_args(small_mnist_npz, out), "--tensorboard", blocker / "logs")
    assert result.exit_code == 2, result.output
    error = one_error_line(result.output)
    assert f"{blocker} is not a folder" in error and "--tensorboard" in error
    assert "data:" not in result.output
    assert _names(tmp_path) == {"file"}  # no stage, nothing to resume or clean


def test_a_failure_found_after_the_stage_was_made_leaves_no_interrupted_run(
    small_mnist_npz, tmp_path, monkeypatch
):
    """Bad data met by the first training step: not an interruption, nothing to resume."""
    from mnist_vae.training.fitter import Fitter

    def bad_data(self, *args, **kwargs):
        raise ValueError("labels out of range: 12 in a 10-class set")

    monkeypatch.setattr(Fitter, "fit", bad_data)
    out = tmp_path / "run"
    failed = invoke(*train_args(small_mnist_npz, out))
    assert failed.exit_code == 1, failed.output
    assert "labels out of range" in one_error_line(failed.output)
    assert _names(tmp_path) == set() and mio.stale_stages(tmp_path) == []
    assert invoke("clean", tmp_path).output.strip() == f"nothing to clean in {tmp_path}"
    resumed = invoke("train", "--resume", out)
    assert resumed.exit_code == 2 and "nothing to resume" in one_error_line(resumed.output)
