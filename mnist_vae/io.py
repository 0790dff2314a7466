"""Writing results so that nothing is ever half-written or silently replaced."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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
    fd, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent
    )
    os.close(fd)
    staging = Path(name)
    try:
        yield staging
        os.chmod(staging, 0o644)  # mkstemp creates 0600; results are ordinary files
        if replace:
            os.replace(staging, path)
        else:
            _link_new(staging, path)
    finally:
        staging.unlink(missing_ok=True)


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
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: folder {parent} is not writable")
    return path


# Files that mark a folder as an earlier mnist-vae result: a run, an export, a
# benchmark's or a sampler's output. --overwrite replaces nothing else.
RESULT_MARKERS = ("config.json", "results.json", "saved_model.pb", "model.tflite", "sampler.json")


def check_output_dir(path: Path, *, overwrite: bool) -> Path:
    """A directory we may create (or, with ``overwrite``, replace) once work is done.

    ``overwrite`` replaces an earlier mnist-vae result only (a folder holding one of
    ``RESULT_MARKERS``), never an unrelated folder that happens to be in the way.
    """
    path = Path(path).expanduser()
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
    return path


@contextmanager
def staged_dir(final: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; rename it to ``final`` only on success.

    A crash or Ctrl-C leaves ``final`` as it was (the staging folder is removed).
    With ``overwrite`` an existing ``final`` is replaced only after the new one is
    complete.
    """
    final = check_output_dir(final, overwrite=overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield staging
        _publish(staging, final, overwrite=overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``; an existing ``final`` is swapped out, then deleted."""
    if final.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        os.replace(final, trash / final.name)
        try:
            os.replace(staging, final)
        except BaseException:
            os.replace(trash / final.name, final)  # put the old result back
            raise
        finally:
            shutil.rmtree(trash, ignore_errors=True)
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
    the same ``final`` fails at once instead of racing; an unlocked folder left by a
    killed process is the earlier work a resumed run continues. On success the folder
    is renamed to ``final`` (replacing an earlier result only with ``overwrite``, and
    never a result another process wrote meanwhile). After a usage error or a
    divergence (``MnistVaeError``) the folder is removed; after anything else (Ctrl-C,
    a full disk, out of memory, or a kill that runs no code at all) it stays, to be
    resumed.
    """
    import fcntl

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
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
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
