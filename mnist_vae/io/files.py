"""Files written whole or not at all: a hidden staging name beside the result, renamed
into place when done."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mnist_vae.io.locks import claim
from mnist_vae.io.marks import file_token


@contextmanager
def staged_file(path: Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; rename it over ``path`` on success.

    Readers see the old file or the whole new one, never a part; on an error the
    temporary file is removed and ``path`` is untouched. The temporary name keeps
    ``path``'s suffix (Keras and matplotlib choose the format by it) and is unique,
    so concurrent writers never share one; its token proves it mnist-vae's
    (``marks.file_token``), so ``clean`` never takes a user's file for one. With
    ``replace=False`` the file is put in place only if ``path`` does not exist at that
    moment (a hard link, atomic): of two writers exactly one succeeds,
    and the other gets a ``RunError``.
    """
    path = Path(path)
    staging, descriptor = claim(lambda: _create_staged(path))
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


def _create_staged(path: Path) -> tuple[int, str]:
    """A new, empty ``.STEM.TOKEN.partial.SUFFIX`` beside ``path``: (descriptor, name)."""
    for _ in range(100):
        name = path.parent / f".{path.stem}.{file_token(path.name)}.partial{path.suffix}"
        try:
            return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), str(name)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free staging name beside {path}")


def _link_new(staging: Path, path: Path) -> None:
    """Give ``staging``'s file the name ``path`` unless that name exists (no-replace)."""
    from mnist_vae.errors import RunError

    try:
        os.link(staging, path)
    except FileExistsError:
        raise RunError(
            f"another process wrote {path} meanwhile; it was left as it is, and "
            "this result was not written"
        ) from None


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


def write_npy_atomic(path: Path, array, *, replace: bool = True) -> Path:
    """Save a numpy array via a temporary file and a rename (``replace``: see staged_file)."""
    import numpy as np

    with atomic_file(path, "wb", replace=replace) as handle:
        np.save(handle, array)
    return Path(path)


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks (weights files run to megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
