"""Exceptions that carry a one-line, user-facing message.

The CLI turns ``UsageError`` subclasses into exit code 2 and every other
``MnistVaeError`` into exit code 1, printing only the message.
"""

from __future__ import annotations


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
