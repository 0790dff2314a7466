"""Writing results so that nothing is ever half-written or silently replaced.

Every writer works under a hidden name beside its result and renames it into place
when done: ``.NAME.XXXXXXXX.partial`` folders (``staged_dir``),
``.STEM.XXXXXXXX.partial.SUFFIX`` files (``staged_file``), ``.NAME.XXXXXXXX.old``
while an ``--overwrite`` swaps folders, and the fixed ``.NAME.training`` of a training
(``locked_stage``). Each is locked (``flock``) for as long as its process uses it, so
one that can be locked was left by a killed process: ``stale_stages`` finds those,
``remove_stale`` removes one, and the output checks warn about them
(``StaleStagesWarning``).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import shutil
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mnist_vae.errors import UsageError


@contextmanager
def staged_file(path: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; rename it over ``path`` on success.

    Readers see the old file or the whole new one, never a part; on an error the
    temporary file is removed and ``path`` is untouched. The temporary name keeps
    ``path``'s suffix (Keras and matplotlib choose the format by it) and is unique,
    so concurrent writers never share one. With ``replace=False`` the file is put in
    place only if ``path`` does not exist at that moment (a hard link, atomic): of two
    writers exactly one succeeds, and the other gets a ``RunError``.
    """
    path = Path(path)
    staging, descriptor = _claim(
        lambda: tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent
        )
    )
    try:
        yield staging
        os.chmod(staging, 0o644)  # mkstemp creates 0600; results are ordinary files
        if replace:
            os.replace(staging, path)
        else:
            _link_new(staging, path)
    finally:
        staging.unlink(missing_ok=True)
        os.close(descriptor)  # the lock goes with it


def _link_new(staging: Path, path: Path) -> None:
    """Give ``staging``'s file the name ``path`` unless that name exists (no-replace)."""
    from mnist_vae.errors import RunError

    try:
        os.link(staging, path)
    except FileExistsError:
        raise RunError(f"another process wrote {path} meanwhile; it was left as it is, and "
                       "this result was not written") from None  # fmt: skip


@contextmanager
def atomic_file(path: Path, mode: str = "wb", *, replace: bool = True) -> Iterator[IO]:
    """An open temporary file beside ``path``, renamed over it only on success."""
    with staged_file(path, replace=replace) as staging, open(staging, mode) as handle:
        yield handle


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    with atomic_file(path, "w") as handle:
        json.dump(data, handle, indent=2, default=_jsonable)
        handle.write("\n")
    return Path(path)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars (arrays also have .item)
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def check_output_file(path: Path, *, overwrite: bool) -> Path:
    """Refuse to clobber a file, and check its folder can be written, before any work."""
    path = Path(path).expanduser()
    check_name_length(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: folder {parent} is not writable")
    warn_stale_stages(parent, writing=path)
    return path


def check_writable_dir(path: Path, what: str, *, create: bool = False) -> Path:
    """Before any work: refuse a folder that exists but cannot be written in.

    For commands that add to an existing folder (``evaluate`` to a run's
    metrics.json, ``sample`` to a run's samplers/). ``what`` says what would be
    written there, for the message. A missing folder passes (its reader reports it),
    unless ``create``: then the folder it would be created in is checked.
    """
    path = Path(path).expanduser()
    if not create and not _exists(path):
        return path
    existing = path
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    if _exists(existing) and not existing.is_dir():
        raise UsageError(f"{existing} is not a folder, and {what}")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{existing} is not writable, and {what}")
    return path


# Our writers name a result NAME ``.NAME.XXXXXXXX.partial`` (or ``.STEM.XXXXXXXX.partial
# .SUFFIX``) while they write it: 18 bytes more than NAME, the most any of them adds.
STAGING_EXTRA = len("..XXXXXXXX.partial")


def check_name_length(path: Path) -> None:
    """Refuse a name the file system would reject (ENAMETOOLONG) once work is done.

    The result's own name must leave room for ``STAGING_EXTRA`` bytes (it is first
    written under a longer hidden name), the folders to be created on the way must
    fit too; the limit is the file system's NAME_MAX (255 when it does not say).
    """
    path = Path(path)
    existing = path.parent
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    try:
        name_max = os.pathconf(existing if existing.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = None
    name_max = name_max if name_max and name_max > 0 else 255
    try:
        to_create = path.relative_to(existing).parts
    except ValueError:  # unusual paths (a drive, ..): check only the result's name
        to_create = (path.name,)
    for index, part in enumerate(to_create):
        limit = name_max - STAGING_EXTRA if index == len(to_create) - 1 else name_max
        size = len(os.fsencode(part))
        if size > limit:
            shown = part if len(part) <= 40 else f"{part[:30]}...{part[-6:]}"
            raise UsageError(
                f"the name {shown!r} is {size} bytes long; this file system takes names of "
                f"up to {name_max} bytes, and {limit} for an output (mnist-vae writes it "
                f"under a longer hidden name first): choose a shorter name"
            )


def _exists(path: Path) -> bool:
    """``path.exists()`` that is False (not an error) for a name too long to exist."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


# Files that mark a folder as an earlier mnist-vae result: a run, an export, a
# benchmark's or a sampler's output. --overwrite replaces nothing else.
RESULT_MARKERS = ("config.json", "results.json", "saved_model.pb", "model.tflite", "sampler.json")


def check_output_dir(path: Path, *, overwrite: bool) -> Path:
    """A directory we may create (or, with ``overwrite``, replace) once work is done.

    ``overwrite`` replaces an earlier mnist-vae result only (a folder holding one of
    ``RESULT_MARKERS``), never an unrelated folder that happens to be in the way.
    """
    path = Path(path).expanduser()
    check_name_length(path)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{path} exists and is not a directory; choose another --out")
        if any(path.iterdir()) and not overwrite:
            raise UsageError(
                f"{path} exists and is not empty; choose another --out or pass --overwrite"
            )
        if any(path.iterdir()) and not any((path / name).is_file() for name in RESULT_MARKERS):
            raise UsageError(
                f"{path} is not an mnist-vae result (no {', '.join(RESULT_MARKERS[:3])}); "
                "--overwrite replaces only earlier results: choose another --out"
            )
    parent = path.parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UsageError(f"cannot create {path}: {existing} is not a writable directory")
    if existing == parent:
        warn_stale_stages(parent, writing=path)
    return path


@contextmanager
def staged_dir(final: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; rename it to ``final`` only on success.

    A crash or Ctrl-C leaves ``final`` as it was (the staging folder is removed).
    With ``overwrite`` an existing ``final`` is replaced only after the new one is
    complete. The staging folder is locked while in use (see ``stale_stages``).
    """
    final = check_output_dir(final, overwrite=overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging, descriptor = _claim(
        lambda: tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    )
    try:
        yield staging
        _publish(staging, final, overwrite=overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        os.close(descriptor)


def _move_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``; an existing ``final`` is swapped out, then deleted."""
    if final.exists():
        trash, descriptor = _claim(
            lambda: tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent)
        )
        try:
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

            raise RunError(f"another process wrote {final} meanwhile; it was left as it "
                           "is") from None  # fmt: skip
    os.chmod(final, 0o755)


def write_npy_atomic(path: Path, array, *, replace: bool = True) -> Path:
    """Save a numpy array via a temporary file and a rename (``replace``: see staged_file)."""
    import numpy as np

    with atomic_file(path, "wb", replace=replace) as handle:
        np.save(handle, array)
    return Path(path)


def training_stage_path(final: Path) -> Path:
    """Where a run to ``final`` is trained: a fixed hidden sibling, so a rerun finds it."""
    final = Path(final).expanduser()
    return final.parent / f".{final.name}.training"


@contextmanager
def locked_stage(final: Path, *, overwrite: bool) -> Iterator[tuple[Path, bool]]:
    """Yield (``.NAME.training`` beside ``final``, whether it held earlier work), locked.

    The folder is exclusively locked (``flock``) while in use, so a second writer to
    the same ``final`` fails at once instead of racing (after ``LOCK_PATIENCE``: a
    ``stale_stages`` scan may hold the lock for an instant); an unlocked folder left by
    a killed process is the earlier work a resumed run continues. On success the folder
    is renamed to ``final`` (replacing an earlier result only with ``overwrite``, and
    never a result another process wrote meanwhile). After a usage error or a
    divergence (``MnistVaeError``) the folder is removed; after anything else (Ctrl-C,
    a full disk, out of memory, or a kill that runs no code at all) it stays, to be
    resumed.
    """
    from mnist_vae.errors import MnistVaeError, RunError

    final = Path(final).expanduser()
    try:
        check_output_dir(final, overwrite=overwrite)
    except UsageError:
        if final.is_dir():  # checked before the work began: someone wrote it since
            raise RunError(
                f"another process wrote {final} meanwhile; choose another --out"
            ) from None
        raise
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = training_stage_path(final)
    try:
        stage.mkdir()
        existed = False
    except FileExistsError:
        existed = True
    descriptor = os.open(stage, os.O_RDONLY)
    try:
        if not _lock(descriptor):
            raise RunError(
                f"{final} is being written by another mnist-vae process (its work is in "
                f"{stage.name}); wait for it to finish or choose another --out"
            ) from None
        if not stage.exists() or os.stat(stage).st_ino != os.fstat(descriptor).st_ino:
            raise RunError(
                f"another process wrote {final} meanwhile; choose another --out"
            ) from None
        try:
            yield stage, existed
        except MnistVaeError:
            shutil.rmtree(stage, ignore_errors=True)  # a usage error or divergence: no use
            raise
        try:
            _publish(stage, final, overwrite=overwrite)
        except RunError:
            raise RunError(
                f"another process wrote {final} while this run trained; this run is kept in "
                f"{stage.name}: move it, or rerun with --overwrite"
            ) from None
    finally:
        os.close(descriptor)


def _publish(stage: Path, final: Path, *, overwrite: bool) -> None:
    """Rename ``stage`` to ``final``; an existing result only goes with ``overwrite``."""
    from mnist_vae.errors import RunError

    if final.exists() and any(final.iterdir()) and not overwrite:
        raise RunError(f"another process wrote {final} meanwhile; it was left as it is")
    _move_into_place(stage, final)


# -- locks on staging items, and the items killed processes left -----------------------

# How long a writer tries for the lock of a staging item before deciding another
# process holds it: a ``stale_stages`` scan holds each lock it tests for an instant.
LOCK_PATIENCE = 0.5


def _lock(descriptor: int, patience: float = LOCK_PATIENCE) -> bool:
    """Take the exclusive ``flock`` on ``descriptor``; False if another holds it."""
    import fcntl

    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _names(path: str | Path, descriptor: int) -> bool:
    """Whether ``path`` still names the file or folder open as ``descriptor``."""
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino
    except OSError:
        return False


def _claim(create: Callable[[], Any]) -> tuple[Path, int]:
    """A new staging item, made by ``create`` (``mkdtemp`` or ``mkstemp``), and its lock.

    The lock is held by the returned descriptor; close it to release. Between the
    creation and the lock, ``remove_stale`` could take the item for abandoned: then
    it is gone (or locked) and another is made.
    """
    from mnist_vae.errors import RunError

    for _ in range(5):
        made = create()
        if isinstance(made, tuple):  # mkstemp: (descriptor, name)
            descriptor, name = made
        else:
            name = made
            try:
                descriptor = os.open(name, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except FileNotFoundError:
                continue
        if _lock(descriptor) and _names(name, descriptor):
            return Path(name), descriptor
        os.close(descriptor)
    raise RunError(f"could not lock a staging place beside {name} (is another process "
                   "removing them?)")  # fmt: skip


# What a staging item is, by its name (``tempfile`` adds 8 characters of [a-z0-9_]).
PARTIAL_FOLDER = "partial folder"
PARTIAL_FILE = "partial file"
OLD_FOLDER = "old swap folder"
INTERRUPTED = "interrupted run"
# What a ``.NAME.training`` stage holds resumable work of, by the intent file written
# first (``mnist_vae.runs.interrupted``: TRAINING, BENCHMARK); without one, nothing.
INTENT_FILES = {"training.json": "training", "benchmark.json": "benchmark"}

_RANDOM = r"[a-z0-9_]{8}"
_PATTERNS = (
    (PARTIAL_FOLDER, True, re.compile(rf"\.(?P<name>.+)\.{_RANDOM}\.partial")),
    (OLD_FOLDER, True, re.compile(rf"\.(?P<name>.+)\.{_RANDOM}\.old")),
    (INTERRUPTED, True, re.compile(r"\.(?P<name>.+)\.training")),
    (PARTIAL_FILE, False, re.compile(rf"\.(?P<name>.+)\.{_RANDOM}\.partial(?P<suffix>\.[^.]*)?")),
)


@dataclass(frozen=True)
class StaleStage:
    """A staging item no process holds: what a killed writer left beside its result.

    ``kind`` is ``PARTIAL_FOLDER``, ``PARTIAL_FILE``, ``OLD_FOLDER`` or ``INTERRUPTED``
    (resumable work, ``work``: a ``training``, which ``mnist-vae train --resume TARGET``
    continues, or a ``benchmark``, which the same command run again continues; a
    ``.NAME.training`` folder with nothing to resume is a ``PARTIAL_FOLDER``);
    ``target`` is the result it was writing; ``size`` in bytes; ``age`` in seconds
    since anything in it changed.
    """

    path: Path
    kind: str
    target: Path
    size: int
    age: float
    work: str | None = None

    @property
    def resumable(self) -> bool:
        return self.kind == INTERRUPTED

    def describe(self) -> str:
        """What it is, in a few words, for listings."""
        name = self.target.name
        if self.kind == INTERRUPTED and self.work == "training":
            return f"interrupted training of {name}: 'mnist-vae train --resume " \
                   f"{shlex.quote(str(self.target))}' continues it"  # fmt: skip
        if self.kind == INTERRUPTED:
            return f"interrupted {self.work} of {name}: the same command run again " \
                   "continues it"  # fmt: skip
        if self.kind == OLD_FOLDER:
            text = f"the previous {name}, moved aside by a killed --overwrite"
            if not _exists(self.target):
                text += f"; {name} itself is missing, and removing this puts it back"
            return text
        if self.path.name.endswith(".training"):
            return f"unfinished training of {name}, killed before it had anything to resume"
        what = "file" if self.kind == PARTIAL_FILE else "folder"
        return f"unfinished {what} {name}, being written when its process was killed"


def stale_stages(folder: Path) -> list[StaleStage]:
    """The abandoned staging items in ``folder`` (not its subfolders), by name.

    An item is abandoned when its lock can be taken: the process that made it is
    gone. One a running process holds is never listed; neither is anything whose
    lock cannot be tested (another user's file, say).
    """
    folder = Path(folder)
    found = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False)
        except OSError:
            continue
        for kind, wants_dir, pattern in _PATTERNS:
            match = pattern.fullmatch(entry.name)
            if match is None or not (is_dir if wants_dir else is_file):
                continue
            target = folder / (match["name"] + (match.groupdict().get("suffix") or ""))
            work = None
            if kind == INTERRUPTED:
                work = next((work for file, work in INTENT_FILES.items()
                             if (Path(entry.path) / file).is_file()), None)  # fmt: skip
                kind = INTERRUPTED if work else PARTIAL_FOLDER  # killed before its intent
            if _abandoned(Path(entry.path)):
                size, newest = _size_and_newest(Path(entry.path))
                found.append(StaleStage(Path(entry.path), kind, target, size,
                                        max(0.0, time.time() - newest), work))  # fmt: skip
            break
    return found


def _abandoned(path: Path) -> bool:
    """Whether no process holds ``path``'s lock (tested by taking it for an instant)."""
    descriptor = _open_locked(path)
    if descriptor is None:
        return False
    os.close(descriptor)
    return True


def _open_locked(path: Path) -> int | None:
    """A descriptor holding ``path``'s lock, or None when it is held, gone or unreadable."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    if _lock(descriptor, patience=0) and _names(path, descriptor):
        return descriptor
    os.close(descriptor)
    return None


def _size_and_newest(path: Path) -> tuple[int, float]:
    """Bytes in ``path`` (a file, or a folder's files) and the newest change time in it."""
    paths = [path]
    if path.is_dir():
        for root, folders, files in os.walk(path):
            paths += [os.path.join(root, name) for name in [*folders, *files]]
    size, newest = 0, 0.0
    for item in paths:
        try:
            info = os.lstat(item)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            size += info.st_size
        newest = max(newest, info.st_mtime)
    return size, newest


def remove_stale(stage: StaleStage) -> str:
    """Remove one abandoned staging item, under its lock; what was done, in words.

    An old swap folder whose result is missing (the kill fell between the two
    renames of an ``--overwrite``) gives the result back instead. An item a process
    has taken up since the scan is left alone.
    """
    descriptor = _open_locked(stage.path)
    if descriptor is None:
        if not _exists(stage.path):
            return f"{stage.path} is gone already"
        return f"left {stage.path} alone: a running process holds it now"
    try:
        kept = stage.path / stage.target.name
        if stage.kind == OLD_FOLDER and kept.is_dir() and not _exists(stage.target):
            os.rename(kept, stage.target)
            shutil.rmtree(stage.path)
            return f"put {stage.target} back from {stage.path.name}"
        if stage.path.is_dir():
            shutil.rmtree(stage.path)
        else:
            stage.path.unlink()
        return f"removed {stage.path}"
    finally:
        os.close(descriptor)


class StaleStagesWarning(UserWarning):
    """A folder being written to holds staging items that killed processes left."""


def warn_stale_stages(folder: Path, *, writing: Path | None = None) -> None:
    """Warn (``StaleStagesWarning``, one line) about abandoned staging items in ``folder``.

    Called by the output checks, so every writer mentions them; the CLI shows the
    warning as a ``note:`` line. The interrupted work of ``writing`` itself is left
    out: the training or benchmark writing it resumes it or says why not.
    """
    try:
        stages = [stage for stage in stale_stages(folder)
                  if not (writing is not None and stage.target == Path(writing)
                          and stage.path.name.endswith(".training"))]  # fmt: skip
    except Exception:  # a note must never stop the work
        return
    note = stale_note(folder, stages)
    if note:
        warnings.warn(note, StaleStagesWarning, stacklevel=3)


def stale_note(folder: Path, stages: list[StaleStage]) -> str | None:
    """One line about ``stages`` (found in ``folder``) and how to clean them, or None."""
    if not stages:
        return None
    folder = Path(folder)
    where = "the current folder" if folder == Path(".") else str(folder)
    command = "mnist-vae clean" + ("" if folder == Path(".") else f" {shlex.quote(str(folder))}")
    loose = [stage for stage in stages if not stage.resumable]
    resumable = [stage for stage in stages if stage.resumable]
    if loose:
        folders = all(stage.kind != PARTIAL_FILE for stage in loose)
        noun = "staging folder" if folders else "staging file" if all(
            stage.kind == PARTIAL_FILE for stage in loose) else "staging item"  # fmt: skip
        text = (f"{_count(len(loose), 'abandoned ' + noun)} in {where} (from killed "
                f"processes, {human_size(sum(stage.size for stage in loose))})")  # fmt: skip
        if resumable:
            return (f"{text}, and {_count(len(resumable), 'interrupted run')} "
                    f"to resume or remove; see '{command}'")  # fmt: skip
        return f"{text}; remove them with '{command}'"
    return (f"{_count(len(resumable), 'interrupted run')} in {where} (from killed "
            f"processes, {human_size(sum(stage.size for stage in resumable))}); resume or "
            f"remove: see '{command}'")  # fmt: skip


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def human_size(size: float) -> str:
    """``1.2 MB``: bytes in decimal units."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def human_age(seconds: float) -> str:
    """``40 s``, ``12 min``, ``5 h``, ``3 days``."""
    for limit, unit, scale in ((120, "s", 1), (120 * 60, "min", 60), (48 * 3600, "h", 3600)):
        if seconds < limit:
            return f"{seconds / scale:.0f} {unit}"
    return f"{seconds / 86400:.0f} days"
