"""Turn library exceptions into one-line messages and the right exit codes."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from typing import Any

import click

from mnist_vae.errors import FULL_DISK, MnistVaeError, UsageError, first_line, full_disk_message
from mnist_vae.notices import held_back_unraisable, notes


class WriteFailed(click.ClickException):
    """A write the disk refused (exit 1).

    ``mnist-vae`` then ends at once, without the interpreter's own clean-up: HDF5
    crashes (SIGSEGV) when it closes a file whose writes failed, as Keras leaves the
    checkpoint file it was writing.
    """


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Usage errors exit 2, runtime errors exit 1; tracebacks only with --debug.

    While the command runs, the library's ``StaleStagesWarning`` shows as one ``note:``
    line on stderr, and exceptions Python can only print ("Exception ignored in ...",
    e.g. from h5py objects of a file whose writes failed) are held back: they are
    printed after a success, and after a failure only with --debug.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        debug = debug or os.environ.get("MNIST_VAE_DEBUG") == "1"
        with notes(say), held_back_unraisable(show_on_error=debug, say=say):
            try:
                return command(*args, **kwargs)
            except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise
            except UsageError as error:
                if debug:
                    show_traceback(error)
                    raise
                raise click.UsageError(str(error)) from None
            except MnistVaeError as error:
                if debug:
                    show_traceback(error)
                    raise
                raise click.ClickException(str(error)) from None
            except KeyboardInterrupt:
                raise click.exceptions.Abort() from None
            except OSError as error:
                if error.errno == errno.ENAMETOOLONG and not debug:  # a path the user gave
                    raise click.UsageError(too_long_message(error)) from None
                if debug or error.errno not in FULL_DISK:
                    raise_unexpected(error, debug)
                raise WriteFailed(full_disk_message(error, command.__name__)) from None
            except Exception as error:  # unexpected: say what, offer the traceback
                raise_unexpected(error, debug)

    return wrapper


# Set on an mnist-vae error that --debug lets through: the root group's own last-resort
# handler (meant for errors while a command loads) must not shorten it to one line.
SHOW_TRACEBACK = "_mnist_vae_show_traceback"


def show_traceback(error: MnistVaeError) -> None:
    """Mark ``error`` to reach the interpreter whole (--debug), so its traceback shows."""
    setattr(error, SHOW_TRACEBACK, True)


def shows_traceback(error: BaseException) -> bool:
    """Whether ``error`` was let through by --debug (``show_traceback``)."""
    return getattr(error, SHOW_TRACEBACK, False)


def raise_unexpected(error: Exception, debug: bool) -> None:
    """An exception nobody expected, in one line that offers --debug (whole with it)."""
    if debug:
        raise error
    message = first_line(error) if str(error).strip() else ""
    raise click.ClickException(
        f"unexpected {type(error).__name__}: {message} (rerun with --debug for the traceback)"
    ) from None


def too_long_message(error: OSError) -> str:
    """ENAMETOOLONG in one line: the path shortened, and what to do."""
    path = str(error.filename or "")
    shown = path if len(path) <= 60 else f"{path[:40]}...{path[-15:]}"
    return (
        f"the path {shown!r} ({len(os.fsencode(path))} bytes) is longer than this file "
        "system allows; choose a shorter one"
    )


def say(text: str) -> None:
    """A note or held-back traceback, on stderr (as every message of the CLI)."""
    click.echo(text, err=True)
