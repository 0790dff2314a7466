"""Checks on an output before any work: never clobber, never a name too long, never an
unwritable folder, and a note about what killed processes left there."""

from __future__ import annotations

import os
from pathlib import Path

from mnist_vae.errors import UsageError
from mnist_vae.io.locks import path_exists
from mnist_vae.io.marks import overwrite_problem
from mnist_vae.io.stale import warn_stale_stages


def check_output_file(path: Path, *, overwrite: bool) -> Path:
    """Refuse to clobber a file, and check its folder can be written, before any work."""
    path = Path(path).expanduser()
    check_output_path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if path_exists(parent) and not parent.is_dir():
        raise UsageError(f"cannot write {path}: {parent} is a file, not a folder")
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
    if not create and not path_exists(path):
        return path
    existing = path
    while not path_exists(existing) and existing != existing.parent:
        existing = existing.parent
    if path_exists(existing) and not existing.is_dir():
        raise UsageError(f"{existing} is not a folder, and {what}")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{existing} is not writable, and {what}")
    return path


# Our writers name a result NAME ``.NAME.XXXXXXXX.partial`` (or ``.STEM.TOKEN.partial
# .SUFFIX``, TOKEN 16 characters) while they write it: 26 bytes more than NAME, the most
# any of them adds.
STAGING_EXTRA = len("..XXXXXXXXXXXXXXXX.partial")


def check_output_path(path: Path) -> None:
    """Refuse an output path that cannot become a result once work is done: no name of
    its own (``""``, ``.``, ``..``), a link to nothing, or a name or whole path the file
    system would reject (ENAMETOOLONG).

    The result's own name must leave room for ``STAGING_EXTRA`` bytes (it is first
    written under a longer hidden name), the folders to be created on the way must
    fit too; the limits are the file system's NAME_MAX and PATH_MAX (``LIMITS``).
    """
    path = Path(path)
    if path.name in ("", ".", ".."):  # "" and "." are the working folder itself
        raise UsageError(
            f"{str(path)!r} names no new file or folder; give the output a name of its own"
        )
    if os.path.islink(path) and not path.exists():
        raise UsageError(
            f"{path} is a link to {os.readlink(path)}, which does not exist; give another "
            "name, or remove the link"
        )
    existing = path.parent
    while not path_exists(existing) and existing != existing.parent:
        existing = existing.parent
    folder = existing if existing.is_dir() else "."
    name_max, path_max = (_path_limit(folder, name, default) for name, default in LIMITS)
    whole = len(os.fsencode(os.path.abspath(path))) + STAGING_EXTRA
    if whole > path_max:
        raise UsageError(
            f"the path {str(path)[:30]!r}... is {whole - STAGING_EXTRA} bytes long; this file "
            f"system takes paths of up to {path_max} bytes, {path_max - STAGING_EXTRA} for an "
            "output (mnist-vae writes it under a longer hidden name first): choose a shorter one"
        )
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


# The file system's limits on a name and a whole path, and what to assume when it does not
# say (POSIX's usual NAME_MAX and PATH_MAX).
LIMITS = (("PC_NAME_MAX", 255), ("PC_PATH_MAX", 4096))


def _path_limit(folder, name: str, default: int) -> int:
    """``os.pathconf(folder, name)``, or ``default`` where the file system does not say."""
    try:
        limit = os.pathconf(folder, name)
    except (OSError, ValueError):
        limit = None
    return limit if limit and limit > 0 else default


# Files that mark a folder as an earlier mnist-vae result: a run, an export, a
# benchmark's or a sampler's output (see ``marks.overwrite_problem`` for what else counts).
RESULT_MARKERS = ("config.json", "results.json", "saved_model.pb", "model.tflite", "sampler.json")


def check_output_dir(path: Path, *, overwrite: bool, kind: str | None = None) -> Path:
    """A directory we may create (or, with ``overwrite``, replace) once work is done.

    ``overwrite`` replaces an earlier mnist-vae result only, and only when every file
    in it is one mnist-vae wrote (listed in its manifest; see ``marks.overwrite_problem``):
    never a user's folder that merely holds a ``config.json``; given the ``kind`` of
    result to be written (``run``, ``export``, ``benchmark``, ``sampler``), only a result
    of that kind.
    """
    path = Path(path).expanduser()
    check_output_path(path)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{path} exists and is not a directory; choose another --out")
        if any(path.iterdir()) and not overwrite:
            raise UsageError(
                f"{path} exists and is not empty; choose another --out or pass --overwrite"
            )
        problem = overwrite_problem(path, kind) if any(path.iterdir()) else None
        if problem is not None:
            raise UsageError(problem)
    parent = path.parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UsageError(f"cannot create {path}: {existing} is not a writable directory")
    if existing == parent:
        warn_stale_stages(parent, writing=path)
    return path
