"""Atomic writes and output-path checks: nothing half-written, nothing silently replaced."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from mnist_vae import io as mio
from mnist_vae.errors import UsageError
from mnist_vae.io import (
    check_output_dir,
    check_output_file,
    marks,
    staged_dir,
    staged_file,
    write_json_atomic,
    write_npy_atomic,
)
from tests.helpers import marked_stage, one_line_message, race_two_processes, staged_file_name


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------
# write_json_atomic


def test_write_json_atomic_writes_valid_json(tmp_path):
    data = {"name": "net1", "values": [1, 2.5, None, True], "nested": {"a": "b"}}
    path = tmp_path / "metrics.json"
    assert write_json_atomic(path, data) == path
    text = path.read_text()
    assert json.loads(text) == data
    assert text.endswith("\n")
    assert list(json.loads(text)) == ["name", "values", "nested"]  # key order is kept
    assert _listing(tmp_path) == ["metrics.json"]


def test_write_json_atomic_accepts_str_path_and_sets_mode(tmp_path):
    path = tmp_path / "a.json"
    result = write_json_atomic(str(path), [1, 2])
    assert isinstance(result, Path)
    assert json.loads(path.read_text()) == [1, 2]
    # mkstemp creates 0600 files; results are meant to be readable like any other file.
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_json_atomic_handles_numpy(tmp_path):
    data = {
        "f32": np.float32(0.5),
        "f64": np.float64(1.25),
        "i64": np.int64(7),
        "u8": np.uint8(255),
        "flag": np.bool_(True),
        "zero_d": np.array(3.0),
        "vector": np.arange(3),
        "matrix": np.eye(2, dtype=np.float32),
        "one": np.array([4]),
        "empty": np.zeros((0,)),
    }
    path = write_json_atomic(tmp_path / "np.json", data)
    loaded = json.loads(path.read_text())
    assert loaded == {
        "f32": 0.5,
        "f64": 1.25,
        "i64": 7,
        "u8": 255,
        "flag": True,
        "zero_d": 3.0,
        "vector": [0, 1, 2],
        "matrix": [[1.0, 0.0], [0.0, 1.0]],
        "one": [4],
        "empty": [],
    }
    assert isinstance(loaded["i64"], int)
    assert isinstance(loaded["flag"], bool)


def test_write_json_atomic_replaces_existing_file(tmp_path):
    path = tmp_path / "a.json"
    write_json_atomic(path, {"version": 1})
    write_json_atomic(path, {"version": 2})
    assert json.loads(path.read_text()) == {"version": 2}
    assert _listing(tmp_path) == ["a.json"]


class Unserialisable:
    pass


def test_failed_json_write_keeps_old_content_and_leaves_no_temp(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"loss": 1.0})
    before = path.read_bytes()
    # The bad value comes after good ones, so a partial document reaches the temp file.
    bad = {"loss": 0.5, "history": list(range(100)), "oops": Unserialisable()}
    with pytest.raises(TypeError, match="Unserialisable is not JSON serialisable"):
        write_json_atomic(path, bad)
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["metrics.json"]


def test_failed_json_write_creates_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "new.json", {"x": object()})
    assert _listing(tmp_path) == []


# ---------------------------------------------------------------------------
# write_npy_atomic


def test_write_npy_atomic_round_trip(tmp_path):
    array = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    path = tmp_path / "samples.npy"
    assert write_npy_atomic(path, array) == path
    loaded = np.load(path)
    assert loaded.dtype == np.float32
    assert loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert _listing(tmp_path) == ["samples.npy"]


def test_write_npy_atomic_keeps_exact_name_and_replaces(tmp_path):
    path = tmp_path / "codes.bin"  # np.save(filename) would append .npy; we must not
    write_npy_atomic(path, np.arange(4, dtype=np.int16))
    write_npy_atomic(path, np.array([[1.5, 2.5]]))
    assert _listing(tmp_path) == ["codes.bin"]
    np.testing.assert_array_equal(np.load(path), np.array([[1.5, 2.5]]))


class BadArray:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("cannot become an array")


def test_failed_npy_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "samples.npy"
    write_npy_atomic(path, np.arange(3))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="cannot become an array"):
        write_npy_atomic(path, BadArray())
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["samples.npy"]


# ---------------------------------------------------------------------------
# staged_dir


def test_staged_dir_success(tmp_path):
    final = tmp_path / "run"
    with staged_dir(final, overwrite=False) as stage:
        assert stage != final
        assert stage.parent == tmp_path  # a sibling, so the final rename is atomic
        assert stage.is_dir()
        assert not final.exists()  # nothing visible until the body succeeds
        (stage / "weights.txt").write_text("w")
        (stage / "figures").mkdir()
        (stage / "figures" / "a.txt").write_text("a")
    assert (final / "weights.txt").read_text() == "w"
    assert (final / "figures" / "a.txt").read_text() == "a"
    assert not stage.exists()
    assert _listing(tmp_path) == ["run"]  # no .partial (or .old) sibling is left
    assert stat.S_IMODE(final.stat().st_mode) == 0o755


def test_staged_dir_creates_missing_parents(tmp_path):
    final = tmp_path / "a" / "b" / "run"
    with staged_dir(final, overwrite=False) as stage:
        (stage / "x").write_text("x")
    assert (final / "x").read_text() == "x"
    assert _listing(final.parent) == ["run"]


def test_staged_dir_into_existing_empty_dir(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    with staged_dir(final, overwrite=False) as stage:
        (stage / "x").write_text("x")
    assert _listing(final) == [mio.RESULT_MANIFEST, "x"]  # the manifest lists x
    assert _listing(tmp_path) == ["run"]


@pytest.mark.parametrize("error", [RuntimeError("crash"), KeyboardInterrupt()])
def test_staged_dir_failure_leaves_nothing(tmp_path, error):
    final = tmp_path / "run"
    with pytest.raises(type(error)), staged_dir(final, overwrite=False) as stage:
        (stage / "half.txt").write_text("half")
        raise error
    assert not final.exists()
    assert not stage.exists()
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("crash"), KeyboardInterrupt()])
def test_staged_dir_failure_with_overwrite_keeps_old_content(tmp_path, error):
    final = tmp_path / "run"
    final.mkdir()
    (final / "config.json").write_text("old")
    with pytest.raises(type(error)), staged_dir(final, overwrite=True) as stage:
        (stage / "new.txt").write_text("new")
        raise error
    assert _listing(final) == ["config.json"]
    assert (final / "config.json").read_text() == "old"
    assert _listing(tmp_path) == ["run"]


def test_staged_dir_refuses_non_empty_target_before_body(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "config.json").write_text("old")
    ran = False
    with pytest.raises(UsageError) as info, staged_dir(final, overwrite=False):
        ran = True
    assert not ran
    message = one_line_message(info)
    assert "not empty" in message
    assert "--overwrite" in message
    assert _listing(final) == ["config.json"]
    assert _listing(tmp_path) == ["run"]  # no staging folder was made


def test_staged_dir_refuses_file_target(tmp_path):
    final = tmp_path / "run"
    final.write_text("a file")
    ran = False
    with pytest.raises(UsageError) as info, staged_dir(final, overwrite=True):
        ran = True
    assert not ran
    assert "not a directory" in one_line_message(info)
    assert final.read_text() == "a file"
    assert _listing(tmp_path) == ["run"]


def test_staged_dir_overwrite_replaces_only_after_success(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "config.json").write_text("old")
    with staged_dir(final, overwrite=True) as stage:
        # While the body runs, the old result is still complete and in place.
        assert (final / "config.json").read_text() == "old"
        (stage / "new.txt").write_text("new")
        assert (final / "config.json").read_text() == "old"
        assert not (final / "new.txt").exists()
    assert _listing(final) == [mio.RESULT_MANIFEST, "new.txt"]
    assert (final / "new.txt").read_text() == "new"
    assert _listing(tmp_path) == ["run"]  # neither the staging nor the old copy is left


# ---------------------------------------------------------------------------
# check_output_dir


def test_check_output_dir_accepts_new_and_empty(tmp_path):
    new = tmp_path / "a" / "b"
    assert check_output_dir(new, overwrite=False) == new
    assert not new.exists()  # checking creates nothing
    assert not (tmp_path / "a").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output_dir(empty, overwrite=False) == empty


def test_check_output_dir_returns_path_and_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = check_output_dir("~/runs", overwrite=False)
    assert isinstance(result, Path)
    assert result == tmp_path / "runs"


def test_check_output_dir_non_empty(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("x")
    with pytest.raises(UsageError) as info:
        check_output_dir(tmp_path / "run", overwrite=False)
    message = one_line_message(info)
    assert "run exists and is not empty" in message
    assert "--overwrite" in message
    with pytest.raises(UsageError, match="not an mnist-vae result"):  # x marks no result
        check_output_dir(tmp_path / "run", overwrite=True)
    (tmp_path / "run" / "config.json").write_text("{}")  # x is still not a run's file
    with pytest.raises(UsageError, match=r"files mnist-vae did not write \(x\)"):
        check_output_dir(tmp_path / "run", overwrite=True)
    (tmp_path / "run" / "x").unlink()  # an earlier run (before manifests): replaceable
    assert check_output_dir(tmp_path / "run", overwrite=True) == tmp_path / "run"


@pytest.mark.parametrize("overwrite", [False, True])
def test_check_output_dir_path_is_a_file(tmp_path, overwrite):
    target = tmp_path / "run"
    target.write_text("x")
    with pytest.raises(UsageError) as info:
        check_output_dir(target, overwrite=overwrite)
    assert "is not a directory" in one_line_message(info)
    assert target.read_text() == "x"


def test_check_output_dir_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError) as info:
        check_output_dir(tmp_path / "file" / "sub" / "run", overwrite=False)
    assert "not a writable directory" in one_line_message(info)


def _deny_write(monkeypatch, denied: Path) -> None:
    """Make one folder look unwritable (tests run as root, so chmod cannot)."""
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) == denied and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_check_output_dir_unwritable_parent(tmp_path, monkeypatch):
    _deny_write(monkeypatch, tmp_path)
    with pytest.raises(UsageError) as info:
        check_output_dir(tmp_path / "new" / "run", overwrite=False)
    assert "not a writable directory" in one_line_message(info)


# ---------------------------------------------------------------------------
# check_output_file


def test_check_output_file_accepts_new_file(tmp_path):
    path = tmp_path / "digits.png"
    assert check_output_file(path, overwrite=False) == path
    assert not path.exists()


def test_check_output_file_bare_name_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_output_file(Path("digits.png"), overwrite=False) == Path("digits.png")


def test_check_output_file_existing(tmp_path):
    path = tmp_path / "digits.png"
    path.write_bytes(b"old")
    with pytest.raises(UsageError) as info:
        check_output_file(path, overwrite=False)
    message = one_line_message(info)
    assert "already exists" in message
    assert "--overwrite" in message
    assert check_output_file(path, overwrite=True) == path
    assert path.read_bytes() == b"old"  # checking never writes


@pytest.mark.parametrize("overwrite", [False, True])
def test_check_output_file_is_a_directory(tmp_path, overwrite):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(UsageError) as info:
        check_output_file(folder, overwrite=overwrite)
    message = one_line_message(info)
    assert "is a directory" in message
    assert "--overwrite" not in message  # overwriting would not help


def test_check_output_file_missing_parent(tmp_path):
    path = tmp_path / "missing" / "digits.png"
    with pytest.raises(UsageError) as info:
        check_output_file(path, overwrite=True)
    message = one_line_message(info)
    assert "does not exist" in message
    assert "missing" in message
    assert not (tmp_path / "missing").exists()


def test_check_output_file_parent_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError) as info:
        check_output_file(tmp_path / "file" / "digits.png", overwrite=False)
    one_line_message(info)


def test_check_output_file_unwritable_folder(tmp_path, monkeypatch):
    _deny_write(monkeypatch, tmp_path)
    with pytest.raises(UsageError) as info:
        check_output_file(tmp_path / "digits.png", overwrite=False)
    assert "is not writable" in one_line_message(info)


def _write_once(path: Path, barrier) -> None:
    with staged_file(path, replace=False) as staging:
        staging.write_text(str(os.getpid()))
        barrier.wait()  # both staged: now both try to put theirs in place


def test_no_replace_writers_to_one_file_never_both_succeed_twenty_times(tmp_path):
    for attempt in range(20):
        target = tmp_path / f"samples{attempt}.png"
        outcomes = race_two_processes(_write_once, target)
        assert outcomes[0] == "ok" and outcomes[1].startswith("refused"), outcomes
        assert target.read_text().isdigit()
        assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_staged_folder_never_replaces_one_written_meanwhile(tmp_path):
    from mnist_vae.errors import RunError

    final = tmp_path / "export"
    with (
        pytest.raises(RunError, match=r"wrote .* meanwhile"),
        staged_dir(final, overwrite=False) as stage,
    ):
        (stage / "saved_model.pb").write_text("ours")
        final.mkdir()
        (final / "saved_model.pb").write_text("theirs")
    assert (final / "saved_model.pb").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


# ---------------------------------------------------------------------------
# long names, writable folders


def test_a_name_too_long_once_staged_is_a_usage_error(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX") - mio.STAGING_EXTRA
    assert check_output_dir(tmp_path / ("r" * limit), overwrite=False)
    assert check_output_file(tmp_path / ("s" * (limit - 4) + ".png"), overwrite=False)
    for check, name in (
        (check_output_dir, "r" * (limit + 1)),
        (check_output_file, "s" * (limit - 3) + ".png"),
        (check_output_dir, "r" * 300),
        (check_output_file, "s" * 300 + ".png"),
    ):
        with pytest.raises(UsageError) as info:
            check(tmp_path / name, overwrite=False)
        message = one_line_message(info)
        assert "choose a shorter name" in message and len(message) < 300
    with pytest.raises(UsageError, match="bytes long"):  # a folder to be created on the way
        check_output_dir(tmp_path / ("d" * 300) / "run", overwrite=False)


def test_a_long_name_that_fits_is_written(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX") - mio.STAGING_EXTRA
    final = tmp_path / ("r" * limit)
    with staged_dir(final, overwrite=False) as stage:
        (stage / "config.json").write_text("{}")
    assert write_json_atomic(tmp_path / ("j" * (limit - 5) + ".json"), 1).exists()
    assert _listing(tmp_path) == sorted([final.name, "j" * (limit - 5) + ".json"])


def test_check_writable_dir(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    assert mio.check_writable_dir(run, "x") == run
    assert mio.check_writable_dir(tmp_path / "missing", "x") == tmp_path / "missing"
    _deny_write(monkeypatch, run)
    with pytest.raises(UsageError) as info:
        mio.check_writable_dir(run, "evaluate adds its results to the run's metrics.json")
    assert one_line_message(info) == (
        f"{run} is not writable, and evaluate adds its results to the run's metrics.json"
    )
    with pytest.raises(UsageError, match="is not writable"):  # created in run: checked there
        mio.check_writable_dir(run / "samplers", "x", create=True)
    mio.check_writable_dir(tmp_path / "missing", "x")  # a missing folder is its reader's


# ---------------------------------------------------------------------------
# stale staging items: what killed writers leave


DIGITS = staged_file_name(Path("digits.png"))  # .digits.TOKEN.partial.png


def _leftovers(folder: Path) -> dict[str, str]:
    """One abandoned item of each kind in ``folder`` (no lock held), by name -> kind."""
    marked_stage(folder / ".run.abcd1234.partial", marks.PARTIAL, folder / "run")
    (folder / ".run.abcd1234.partial" / "model.keras").write_bytes(b"x" * 1000)
    (folder / DIGITS).write_bytes(b"y" * 10)
    marked_stage(folder / ".old.k0k0k0k0.old", marks.OLD, folder / "old")
    (folder / ".old.k0k0k0k0.old" / "old").mkdir()
    marked_stage(folder / ".net1.training", marks.TRAINING, folder / "net1")
    (folder / ".net1.training" / "checkpoint").mkdir()
    (folder / ".net1.training" / "training.json").write_text("{}")
    marked_stage(folder / ".nll.training", marks.TRAINING, folder / "nll")
    (folder / ".nll.training" / "benchmark.json").write_text("{}")
    # killed before it wrote its intent
    marked_stage(folder / ".early.training", marks.TRAINING, folder / "early")
    return {
        ".run.abcd1234.partial": mio.PARTIAL_FOLDER,
        DIGITS: mio.PARTIAL_FILE,
        ".old.k0k0k0k0.old": mio.OLD_FOLDER,
        ".net1.training": mio.INTERRUPTED,
        ".nll.training": mio.INTERRUPTED,
        ".early.training": mio.PARTIAL_FOLDER,
    }


def test_stale_stages_finds_each_kind_of_leftover(tmp_path):
    expected = _leftovers(tmp_path)
    (tmp_path / ".hidden").mkdir()  # not ours: never listed
    (tmp_path / ".notes.partial").write_text("not ours")  # no random part
    (tmp_path / "run").mkdir()
    found = {stage.path.name: stage for stage in mio.stale_stages(tmp_path)}
    assert {name: stage.kind for name, stage in found.items()} == expected
    assert found[".run.abcd1234.partial"].target == tmp_path / "run"
    assert found[".run.abcd1234.partial"].size == 1000 + len(
        (tmp_path / ".run.abcd1234.partial" / mio.STAGE_MARKER).read_bytes()
    )
    assert found[DIGITS].target == tmp_path / "digits.png"
    assert found[".net1.training"].work == "training" and found[".net1.training"].resumable
    assert "mnist-vae train --resume" in found[".net1.training"].describe()
    assert found[".nll.training"].work == "benchmark"
    assert (
        "old" in found[".old.k0k0k0k0.old"].describe()
        and "puts it back" in found[".old.k0k0k0k0.old"].describe()
    )
    assert all(0 <= stage.age < 60 for stage in found.values())
    assert mio.stale_stages(tmp_path / "nowhere") == []


def test_a_locked_item_is_in_use_and_never_listed_or_removed(tmp_path):
    import fcntl

    _leftovers(tmp_path)
    held = []
    for name in (".run.abcd1234.partial", DIGITS, ".net1.training"):
        descriptor = os.open(tmp_path / name, os.O_RDONLY)
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.append(descriptor)
    try:
        listed = {stage.path.name for stage in mio.stale_stages(tmp_path)}
        assert listed == {".old.k0k0k0k0.old", ".nll.training", ".early.training"}
        stale = mio.StaleStage(
            tmp_path / ".run.abcd1234.partial", mio.PARTIAL_FOLDER, tmp_path / "run", 0, 0.0
        )
        assert "alone" in mio.remove_stale(stale)
        assert (tmp_path / ".run.abcd1234.partial" / "model.keras").exists()
    finally:
        for descriptor in held:
            os.close(descriptor)


def test_items_in_use_by_our_writers_are_locked(tmp_path):
    with (
        staged_dir(tmp_path / "export", overwrite=False) as stage,
        staged_file(tmp_path / "digits.png") as staging,
    ):
        stage.joinpath("saved_model.pb").write_text("x")
        staging.write_text("y")
        assert mio.stale_stages(tmp_path) == []
    with pytest.raises(KeyboardInterrupt), mio.locked_stage(tmp_path / "run", overwrite=False):
        assert mio.stale_stages(tmp_path) == []
        raise KeyboardInterrupt  # keeps the stage: an interrupted run, now abandoned
    assert [stage.path.name for stage in mio.stale_stages(tmp_path)] == [".run.training"]


def test_remove_stale_removes_and_puts_a_swapped_out_result_back(tmp_path):
    _leftovers(tmp_path)
    (tmp_path / ".old.k0k0k0k0.old" / "old" / "config.json").write_text("{}")
    outcomes = [mio.remove_stale(stage) for stage in mio.stale_stages(tmp_path)]
    assert f"put {tmp_path / 'old'} back from .old.k0k0k0k0.old" in outcomes
    assert _listing(tmp_path) == ["old"]
    assert (tmp_path / "old" / "config.json").exists()


def test_output_checks_warn_once_in_one_line_about_leftovers(tmp_path):
    _leftovers(tmp_path)
    with pytest.warns(mio.StaleStagesWarning) as caught:
        check_output_dir(tmp_path / "net1", overwrite=False)
    message = str(caught[0].message)
    assert "\n" not in message and len(caught) == 1
    assert message.startswith("4 abandoned staging items in ")  # not net1's own stage
    assert "1 interrupted run" in message and f"mnist-vae clean {tmp_path}" in message
    with pytest.warns(mio.StaleStagesWarning, match="2 interrupted runs"):
        check_output_file(tmp_path / "digits.png", overwrite=False)


def test_no_warning_without_leftovers(tmp_path, recwarn):
    (tmp_path / "run").mkdir()
    check_output_dir(tmp_path / "new", overwrite=False)
    check_output_file(tmp_path / "new.png", overwrite=False)
    assert not [w for w in recwarn if issubclass(w.category, mio.StaleStagesWarning)]


def test_human_units():
    assert [mio.human_size(n) for n in (12, 1234, 1_234_567, 5e9)] == [
        "12 B",
        "1.2 kB",
        "1.2 MB",
        "5.0 GB",
    ]
    assert [mio.human_age(s) for s in (5, 600, 7200 * 3, 86400 * 9)] == [
        "5 s",
        "10 min",
        "6 h",
        "9 days",
    ]


# ---------------------------------------------------------------------------
# proof of origin: staging items and results carry mnist-vae's marks


def _look_alikes(folder: Path) -> list[str]:
    """A user's files named like staging items, and staging of a version before the
    markers: none carries mnist-vae's proof, so none may be listed or removed."""
    (folder / ".photos.20241201.old").mkdir()
    (folder / ".photos.20241201.old" / "beach.jpg").write_bytes(b"jpeg")
    (folder / ".notes.training").mkdir()
    (folder / ".notes.training" / "todo.txt").write_text("mine")
    (folder / ".thesis.draft_v2.partial.tex").write_text("\\chapter{}")
    (folder / ".run.abcd1234.partial").mkdir()  # an older version's, no marker
    (folder / ".run.abcd1234.partial" / "model.keras").write_bytes(b"x")
    (folder / ".net1.training").mkdir()
    (folder / ".net1.training" / "training.json").write_text("{}")
    (folder / ".digits.a1b2c3d4.partial.png").write_bytes(b"png")  # an older version's
    (folder / ".fake.0123456789abcdef.partial.png").write_bytes(b"png")  # token fails its check
    return _listing(folder)


def test_staging_look_alikes_without_proof_are_never_listed_nor_removed(tmp_path):
    names = _look_alikes(tmp_path)
    assert mio.stale_stages(tmp_path) == []
    assert [path.name for path in mio.unrecognised_stages(tmp_path)] == names
    forged = mio.StaleStage(
        tmp_path / ".photos.20241201.old", mio.OLD_FOLDER, tmp_path / "photos", 0, 0.0
    )
    assert "not recognised" in mio.remove_stale(forged)  # checked again before removal
    assert _listing(tmp_path) == names
    assert (tmp_path / ".photos.20241201.old" / "beach.jpg").read_bytes() == b"jpeg"
    with pytest.raises(UsageError) as info, mio.locked_stage(tmp_path / "notes", overwrite=False):
        pytest.fail("a user's .notes.training was taken for a stage")
    assert "no staging marker" in one_line_message(info, tmp_path / ".notes.training")
    assert _listing(tmp_path / ".notes.training") == ["todo.txt"]


def test_an_empty_unmarked_stage_is_taken_up_and_marked(tmp_path):
    # A racing writer's stage looks like this before it writes its marker: nothing to lose.
    (tmp_path / ".run.training").mkdir()
    with mio.locked_stage(tmp_path / "run", overwrite=False) as (stage, existed):
        assert existed and marks.has_stage_marker(stage, marks.TRAINING, tmp_path / "run")
        (stage / "config.json").write_text("{}")
    assert (tmp_path / "run" / "config.json").exists()


def test_a_marker_for_another_target_or_kind_is_no_proof(tmp_path):
    marked_stage(tmp_path / ".a.abcd1234.partial", marks.PARTIAL, tmp_path / "b")
    marked_stage(tmp_path / ".c.abcd1234.old", marks.PARTIAL, tmp_path / "c")
    (tmp_path / ".d.abcd1234.partial").mkdir()
    (tmp_path / ".d.abcd1234.partial" / mio.STAGE_MARKER).write_text("not json")
    (tmp_path / staged_file_name(Path("e.png")).replace(".e.", ".f.")).write_text("x")
    assert mio.stale_stages(tmp_path) == []
    assert len(mio.unrecognised_stages(tmp_path)) == 4


def test_our_staging_items_carry_their_proof_and_results_a_manifest(tmp_path):
    with (
        staged_dir(tmp_path / "export", overwrite=False) as stage,
        staged_file(tmp_path / "digits.png") as staging,
    ):
        marker = json.loads((stage / mio.STAGE_MARKER).read_text())
        assert marker == {"mnist_vae": "staging", "kind": "partial", "target": "export"}
        assert marks.is_file_token("digits.png", staging.name.split(".")[2])
        (stage / "saved_model.pb").write_text("x")
        (stage / "variables").mkdir()
        (stage / "variables" / "v.index").write_text("v")
        staging.write_text("y")
    manifest = json.loads((tmp_path / "export" / mio.RESULT_MANIFEST).read_text())
    assert manifest == {
        "mnist_vae": "result",
        "kind": "export",
        "files": ["saved_model.pb", "variables/v.index"],
    }
    assert not (tmp_path / "export" / mio.STAGE_MARKER).exists()
    with (
        pytest.raises(KeyboardInterrupt),
        mio.locked_stage(tmp_path / "run", overwrite=False) as (stage, existed),
    ):
        assert not existed and marks.has_stage_marker(stage, marks.TRAINING, tmp_path / "run")
        raise KeyboardInterrupt
    with mio.locked_stage(tmp_path / "run", overwrite=False) as (stage, existed):
        assert existed  # a marked stage resumes
        (stage / "config.json").write_text("{}")
    assert _listing(tmp_path / "run") == [mio.RESULT_MANIFEST, "config.json"]


def test_overwrite_replaces_only_files_the_manifest_lists(tmp_path):
    final = tmp_path / "export"
    with staged_dir(final, overwrite=False) as stage:
        (stage / "saved_model.pb").write_text("old")
    assert check_output_dir(final, overwrite=True) == final  # all ours: replaceable
    (final / "notes.txt").write_text("mine")
    (final / "assets").mkdir()
    (final / "assets" / "logo.png").write_text("mine")
    ran = False
    with pytest.raises(UsageError) as info, staged_dir(final, overwrite=True):
        ran = True
    assert not ran  # refused before any work
    one_line_message(info, final, "assets/logo.png, notes.txt", "did not write")
    assert _listing(final) == [mio.RESULT_MANIFEST, "assets", "notes.txt", "saved_model.pb"]
    (final / "notes.txt").unlink()
    (final / "assets" / "logo.png").unlink()
    with staged_dir(final, overwrite=True) as stage:
        (stage / "saved_model.pb").write_text("new")
    assert (final / "saved_model.pb").read_text() == "new"


def test_a_file_added_during_the_work_stops_the_overwrite(tmp_path):
    from mnist_vae.errors import RunError

    final = tmp_path / "export"
    with staged_dir(final, overwrite=False) as stage:
        (stage / "saved_model.pb").write_text("old")
    with pytest.raises(RunError, match=r"notes\.txt"), staged_dir(final, overwrite=True) as stage:
        (stage / "saved_model.pb").write_text("new")
        (final / "notes.txt").write_text("written while the export ran")
    assert (final / "notes.txt").exists() and (final / "saved_model.pb").read_text() == "old"
    assert _listing(tmp_path) == ["export"]


def test_what_mnist_vae_adds_to_a_run_later_may_be_replaced(tmp_path):
    run = tmp_path / "run"
    with staged_dir(run, overwrite=False) as stage:
        (stage / "config.json").write_text("{}")
        (stage / "model.keras").write_text("m")
    (run / "metrics.json").write_text("{}")  # evaluate
    (run / "figures").mkdir()
    (run / "figures" / "judge.png").write_text("png")  # evaluate's figures
    (run / "samples").mkdir()
    (run / "samples" / "prior-s0.png").write_text("png")  # sample's default --out
    with staged_dir(run / "samplers" / "gmm", overwrite=False) as stage:  # sample --sampler
        (stage / "sampler.json").write_text("{}")
        (stage / "means.npy").write_text("n")
    assert mio.overwrite_problem(run) is None
    (run / "samplers" / "gmm" / "mine.txt").write_text("mine")
    assert "samplers/gmm/mine.txt" in mio.overwrite_problem(run)
    (run / "samplers" / "gmm" / "mine.txt").unlink()
    # What mnist-vae adds sits at the top of figures/ and samples/: a user's folder
    # inside them is the user's, whatever its files are called.
    for mine in ("samples/thesis/final.npy", "figures/paper/figure1.png"):
        (run / mine).parent.mkdir()
        (run / mine).write_text("mine")
        assert mine in mio.overwrite_problem(run)
        (run / mine).unlink()
    assert mio.overwrite_problem(run) is None


def test_overwrite_replaces_only_a_result_of_the_kind_being_written(tmp_path):
    """One wrong --out must not turn a trained run into an export or a benchmark."""
    run = tmp_path / "run"
    with staged_dir(run, overwrite=False, kind="run") as stage:
        (stage / "config.json").write_text("{}")
        (stage / "model.keras").write_text("m")
    for kind in ("export", "benchmark"):
        with pytest.raises(UsageError) as info:
            check_output_dir(run, overwrite=True, kind=kind)
        one_line_message(info, run, "is an mnist-vae run", f"replaces only an earlier {kind}")
    assert check_output_dir(run, overwrite=True, kind="run") == run
    # Checked again when the new result is committed: a stage of another kind stops there.
    from mnist_vae.errors import RunError

    with (
        pytest.raises(RunError, match="is an mnist-vae run"),
        staged_dir(run, overwrite=True) as stage,
    ):
        (stage / "saved_model.pb").write_text("an export")
    assert sorted(p.name for p in run.iterdir()) == [
        mio.RESULT_MANIFEST,
        "config.json",
        "model.keras",
    ]


@pytest.mark.parametrize(
    "kind, files",
    [
        (
            "run",
            [
                "config.json",
                "metrics.json",
                "latent.json",
                "history.csv",
                "model.keras",
                "classifier.keras",
                "figures.json",
                "figures/samples.png",
            ],
        ),
        (
            "export",
            [
                "saved_model.pb",
                "fingerprint.pb",
                "variables/variables.index",
                "assets/config.json",
                "model.tflite",
            ],
        ),
        ("benchmark", ["results.json", "results.csv", "nll.png", "runs/vae/config.json"]),
    ],
)
def test_results_of_earlier_versions_are_replaced_only_if_all_their_files_are_ours(
    tmp_path, kind, files
):
    final = tmp_path / kind
    for name in files:
        (final / name).parent.mkdir(parents=True, exist_ok=True)
        (final / name).write_text("x")
    assert marks.result_kind(final) == kind and check_output_dir(final, overwrite=True)
    (final / "thesis.tex").write_text("mine")
    (final / "figures").mkdir(exist_ok=True)
    (final / "figures" / "notes" / "a.txt").parent.mkdir()
    (final / "figures" / "notes" / "a.txt").write_text("mine")
    with pytest.raises(UsageError) as info:
        check_output_dir(final, overwrite=True)
    one_line_message(info, final, "thesis.tex", "--overwrite would delete them")
    assert (final / "thesis.tex").exists()


def test_a_result_s_manifest_lists_what_is_left_once_its_scratch_is_gone(tmp_path):
    final = tmp_path / "run"
    scratch = ("checkpoint", "training.json")
    with mio.locked_stage(final, overwrite=False, scratch=scratch) as (stage, _):
        (stage / "checkpoint").mkdir()
        (stage / "checkpoint" / "epoch-1.weights.h5").write_text("w")
        (stage / "training.json").write_text("{}")
        (stage / "config.json").write_text("{}")
    manifest = json.loads((final / mio.RESULT_MANIFEST).read_text())
    assert manifest["files"] == ["config.json"]
    assert _listing(final) == [mio.RESULT_MANIFEST, "config.json"]
    assert mio.overwrite_problem(final) is None
