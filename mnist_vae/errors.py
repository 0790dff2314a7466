"""Exceptions that carry a one-line, user-facing message.

The CLI turns ``UsageError`` subclasses into exit code 2 and every other
``MnistVaeError`` into exit code 1, printing only the message; a write the disk refused
gets its one line here too (``full_disk_message``).
"""

from __future__ import annotations

import errno
import re


class MnistVaeNote(UserWarning):
    """Something a command says beside its result (one ``note: ...`` line on the CLI,
    ``mnist_vae.notices.notes``): leftovers of killed writers, a replaced cached copy."""


class MnistVaeError(Exception):
    """Base class: a failure the user can act on, described in one line."""


class UsageError(MnistVaeError, ValueError):
    """The caller asked for something impossible (bad name, bad number, bad path)."""


class UnknownNameError(UsageError, LookupError):
    """A registry lookup failed; the message lists close matches."""


class ConfigError(UsageError):
    """A configuration value is out of range or inconsistent."""


class BackendError(UsageError):
    """Keras is set to a backend other than TensorFlow."""


class DataError(MnistVaeError):
    """Data could not be read, is corrupt, or no source could provide it."""


class DataFormatError(DataError, UsageError):
    """A file the user pointed at is not in a format we can read."""


class RunError(MnistVaeError):
    """A run directory is missing, incomplete or inconsistent."""


class WorkKeptError(RunError):
    """A runtime error that leaves the interrupted work in its stage as it was.

    Raised where the stage holds work that must not be thrown away (checkpoints that
    do not read back, an intent file that does not): the message names the file and
    says how to go on. Every other ``MnistVaeError`` inside a stage removes it.
    """


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's first line (or its type's name), cut to ``limit`` characters."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit] + "..."


# A write the disk refused: the cause in words, by errno.
FULL_DISK = {
    errno.ENOSPC: "the disk is full (no space left on the device)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file-size limit was hit (a file grew past 'ulimit -f' or the file "
    "system's largest file)",
}


def full_disk_message(error: OSError, command: str = "") -> str:
    """``ENOSPC``/``EDQUOT``/``EFBIG`` as one line: the cause, the file, what to do."""
    name = error.filename
    if name is None:  # h5py puts the file in the text: "..., filename = 'x.h5', ..."
        found = re.search(r"filename = '([^']+)'", str(error))
        name = found.group(1) if found else None
    where = f" while writing {name}" if name else ""
    again = {
        "train": " (it resumes from its last checkpoint)",
        "augment": " (it resumes after its last finished step)",
        "nll": " (it resumes after its last finished step)",
    }.get(command, "")
    return (
        f"{FULL_DISK[error.errno]}{where}; nothing was published: free some space (or "
        f"raise the limit) and run the command again{again}"
    )
