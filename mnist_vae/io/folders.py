"""Folders written whole or not at all: a staging sibling renamed into place, and the
fixed, locked ``.NAME.training`` stage of work that resumes after a kill."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mnist_vae.errors import UsageError
from mnist_vae.io.checks import check_output_dir
from mnist_vae.io.locks import claim, take_lock
from mnist_vae.io.marks import (
    OLD,
    PARTIAL,
    TRAINING,
    foreign_stage,
    has_stage_marker,
    overwrite_problem,
    remove_stage_marker,
    result_kind,
    write_manifest,
    write_stage_marker,
)


@contextmanager
def staged_dir(final: Path, *, overwrite: bool, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; rename it to ``final`` only on success.

    A crash or Ctrl-C leaves ``final`` as it was (the staging folder is removed).
    With ``overwrite`` an existing ``final`` is replaced only after the new one is
    complete, and only if it is a result of the same ``kind``. The staging folder is
    locked while in use (see ``stale_stages``).
    """
    final = check_output_dir(final, overwrite=overwrite, kind=kind)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging, descriptor = claim(
        lambda: tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    )
    try:
        write_stage_marker(staging, PARTIAL, final)  # first: proof that it is ours
        yield staging
        _publish(staging, final, overwrite=overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        os.close(descriptor)


def _move_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``; an existing ``final`` is swapped out, then deleted."""
    if final.exists():
        trash, descriptor = claim(
            lambda: tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent)
        )
        try:
            write_stage_marker(trash, OLD, final)
            os.replace(final, trash / final.name)
            try:
                os.replace(staging, final)
            except BaseException:
                os.replace(trash / final.name, final)  # put the old result back
                raise
        finally:
            shutil.rmtree(trash, ignore_errors=True)
            os.close(descriptor)
    else:
        try:
            os.rename(staging, final)  # onto a non-empty folder this fails, never replaces
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            from mnist_vae.errors import RunError

            raise RunError(
                f"another process wrote {final} meanwhile; it was left as it is"
            ) from None
    os.chmod(final, 0o755)


def training_stage_path(final: Path) -> Path:
    """Where a run to ``final`` is trained: a fixed hidden sibling, so a rerun finds it."""
    final = Path(final).expanduser()
    return final.parent / f".{final.name}.training"


@contextmanager
def locked_stage(
    final: Path,
    *,
    overwrite: bool,
    scratch: tuple[str, ...] = (),
    progress: tuple[str, ...] | None = None,
) -> Iterator[tuple[Path, bool]]:
    """Yield (``.NAME.training`` beside ``final``, whether it held earlier work), locked.

    The folder is exclusively locked (``flock``) while in use, so a second writer to
    the same ``final`` fails at once instead of racing (after ``LOCK_PATIENCE``: a
    ``stale_stages`` scan may hold the lock for an instant); an unlocked folder left by
    a killed process is the earlier work a resumed run continues. On success the folder
    is renamed to ``final`` (replacing an earlier result only with ``overwrite``, and
    never a result another process wrote meanwhile). After a usage error or a
    divergence (``MnistVaeError``, but ``WorkKeptError``) the folder is removed; after
    an interruption (Ctrl-C, a full disk, out of memory, or a kill that runs no code at
    all) it stays, to be resumed. After any other error (a bug, bad data found late)
    it stays only if it holds work: with ``progress`` given, one of those names in it
    (checkpoints); otherwise it is removed, so that no failure that would recur is
    left as an "interrupted run". ``scratch`` names what only resuming needs
    (checkpoints, the intent file): it is removed from the result, in the order given,
    once the result is in place (a training names its intent file last: it marks a
    result still holding scratch, ``runs.interrupted.leftover_intent``).
    """
    final = _still_free(Path(final).expanduser(), overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = training_stage_path(final)
    try:
        stage.mkdir()
        existed = False
    except FileExistsError:
        existed = True
    descriptor = os.open(stage, os.O_RDONLY)
    try:
        _claim_stage(stage, final, descriptor, existed)
        try:
            yield stage, existed
        except BaseException as error:
            if _no_use(error, stage, progress):
                shutil.rmtree(stage, ignore_errors=True)
            raise
        _publish_or_keep(stage, final, overwrite)
        remove_scratch(final, scratch)  # after the rename: a kill before it keeps it resumable
    finally:
        os.close(descriptor)


def remove_scratch(result: Path, scratch: tuple[str, ...]) -> None:
    """Remove what only resuming needed from a committed ``result``, in the order given,
    then list what is left in its manifest again (a kill in between leaves a manifest
    naming files that are gone, which an ``--overwrite`` check never minds)."""
    present = [Path(result) / name for name in scratch if (Path(result) / name).exists()]
    for leftover in present:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    if present:
        write_manifest(result)


def _still_free(final: Path, overwrite: bool) -> Path:
    """``final`` checked as an output folder; written since the command's own check, an error."""
    from mnist_vae.errors import RunError

    try:
        check_output_dir(final, overwrite=overwrite)
    except UsageError:
        if final.is_dir():  # checked before the work began: someone wrote it since
            raise RunError(
                f"another process wrote {final} meanwhile; choose another --out"
            ) from None
        raise
    return final


def _claim_stage(stage: Path, final: Path, descriptor: int, existed: bool) -> None:
    """Lock the stage opened as ``descriptor``, make sure it is still the one opened and
    ours (or new, then marked ours), else refuse."""
    from mnist_vae.errors import RunError

    if not take_lock(descriptor):
        raise RunError(
            f"{final} is being written by another mnist-vae process (its work is in "
            f"{stage.name}); wait for it to finish or choose another --out"
        ) from None
    if not stage.exists() or os.stat(stage).st_ino != os.fstat(descriptor).st_ino:
        raise RunError(f"another process wrote {final} meanwhile; choose another --out") from None
    if existed and foreign_stage(stage, TRAINING, final):
        raise UsageError(unrecognised_stage(stage, final))
    if not has_stage_marker(stage, TRAINING, final):  # new (or empty): ours now
        write_stage_marker(stage, TRAINING, final)  # first: proof that it is ours


def _publish_or_keep(stage: Path, final: Path, overwrite: bool) -> None:
    """Rename the finished stage to ``final``; if that fails, the stage stays, resumable."""
    from mnist_vae.errors import RunError

    try:
        _publish(stage, final, overwrite=overwrite)
    except BaseException as error:  # e.g. no room for the rename itself
        if stage.is_dir():
            write_stage_marker(stage, TRAINING, final)  # kept: still ours, resumable
        if not isinstance(error, RunError):
            raise
        if overwrite:  # files that are not ours appeared in final meanwhile
            raise RunError(f"{error}; this run is kept in {stage.name}") from None
        raise RunError(
            f"another process wrote {final} while this run trained; this run is kept in "
            f"{stage.name}: move it, or rerun with --overwrite"
        ) from None


def unrecognised_stage(stage: Path, final: Path) -> str:
    """The error for a ``.NAME.training`` folder in the way that mnist-vae did not mark."""
    return (
        f"{stage} is in the way of {final} and was not made by this version of "
        "mnist-vae (it has no staging marker), so it is neither resumed nor deleted: "
        "move it away, or choose another --out"
    )


def _publish(stage: Path, final: Path, *, overwrite: bool) -> None:
    """Commit a result: list its files in its manifest, then rename ``stage`` to ``final``.

    This is the one place results are committed, so every result folder carries the
    manifest that lets a later ``--overwrite`` tell it from a user's folder. An
    existing result goes only with ``overwrite``, and only if every file in it is
    still one mnist-vae wrote (checked again: it may have changed since the start).
    """
    from mnist_vae.errors import RunError

    if final.exists() and any(final.iterdir()):
        if not overwrite:
            raise RunError(f"another process wrote {final} meanwhile; it was left as it is")
        problem = overwrite_problem(final, result_kind(stage))
        if problem is not None:
            raise RunError(f"{final} changed while this ran: {problem}")
    write_manifest(stage)
    remove_stage_marker(stage)
    _move_into_place(stage, final)


# Write errors that stop work without saying anything about it: the same work succeeds
# once there is room (mnist_vae.errors.FULL_DISK, and a failing device).
INTERRUPTING_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def is_interruption(error: BaseException) -> bool:
    """Whether ``error`` stopped the work from outside (Ctrl-C, a signal turned into an
    exception, a full disk, out of memory) rather than for a reason that would recur."""
    if not isinstance(error, Exception) or isinstance(error, MemoryError):
        return True  # KeyboardInterrupt, SystemExit
    if isinstance(error, OSError) and error.errno in INTERRUPTING_ERRNOS:
        return True
    return type(error).__name__ == "ResourceExhaustedError"  # TensorFlow out of memory


def _no_use(error: BaseException, stage: Path, progress: tuple[str, ...] | None) -> bool:
    """Whether a stage left by ``error`` is of no use to a rerun: ``locked_stage``'s rules."""
    from mnist_vae.errors import MnistVaeError, WorkKeptError

    if isinstance(error, WorkKeptError):
        return False
    if isinstance(error, MnistVaeError):
        return True  # a usage error or divergence: it would happen again
    if progress is None or is_interruption(error):
        return False
    return not any(_has_content(stage / name) for name in progress)


def _has_content(path: Path) -> bool:
    """A file, or a folder holding something other than hidden staging items."""
    try:
        if not path.is_dir():
            return path.is_file()
        return any(not entry.name.startswith(".") for entry in os.scandir(path))
    except OSError:
        return False
