"""Locks on staging items: a writer holds one for as long as it uses its item, so an
item whose lock can be taken was left by a killed process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# How long a writer tries for the lock of a staging item before deciding another
# process holds it: a ``stale_stages`` scan holds each lock it tests for an instant.
LOCK_PATIENCE = 0.5


def take_lock(descriptor: int, patience: float = LOCK_PATIENCE) -> bool:
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


def still_names(path: str | Path, descriptor: int) -> bool:
    """Whether ``path`` still names the file or folder open as ``descriptor``."""
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino
    except OSError:
        return False


def claim(create: Callable[[], Any]) -> tuple[Path, int]:
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
        if take_lock(descriptor) and still_names(name, descriptor):
            return Path(name), descriptor
        os.close(descriptor)
    raise RunError(
        f"could not lock a staging place beside {name} (is another process removing them?)"
    )


def path_exists(path: Path) -> bool:
    """``path.exists()`` that is False (not an error) for a name too long to exist."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def in_use(path: str | Path) -> bool:
    """Whether another process holds the lock of the staging item ``path`` (is writing it)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not take_lock(descriptor, patience=0)
    finally:
        os.close(descriptor)  # and with it the lock, if this process took it
