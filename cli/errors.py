"""Turn library exceptions into one-line messages and the right exit codes."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import click

from mnist_vae.errors import MnistVaeError, UsageError, first_line

# A write the disk refused: the cause in words, by errno.
FULL_DISK = {
    errno.ENOSPC: "the disk is full (no space left on the device)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file-size limit was hit (a file grew past 'ulimit -f' or the file "
    "system's largest file)",
}


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
        with notes(), held_back_unraisable(show_on_error=debug):
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
    if debug:
        raise error
    message = first_line(error) if str(error).strip() else ""
    raise click.ClickException(
        f"unexpected {type(error).__name__}: {message} (rerun with --debug for the traceback)"
    ) from None


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


@contextlib.contextmanager
def notes() -> Iterator[None]:
    """Show the library's notes (``StaleStagesWarning``) as ``note: ...``, each once."""
    from mnist_vae.io import StaleStagesWarning

    shown: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", StaleStagesWarning)
        original = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, StaleStagesWarning):
                return original(message, category, filename, lineno, file, line)
            text = str(message)
            if text not in shown:
                shown.add(text)
                click.echo(f"note: {text}", err=True)

        warnings.showwarning = show
        yield


@contextlib.contextmanager
def held_back_unraisable(show_on_error: bool) -> Iterator[None]:
    """Collect the exceptions Python can only print; print them after a success.

    Those are what ``sys.unraisablehook`` gets and, while a command runs, what
    ``sys.excepthook`` gets (Cython extensions such as h5py print a failed
    ``__dealloc__`` through it before they report it as unraisable).
    """
    import traceback

    held: list[str] = []
    hooks = sys.unraisablehook, sys.excepthook

    def hold_unraisable(unraisable) -> None:
        where = f"Exception ignored in: {unraisable.object!r}\n" if unraisable.object else ""
        held.append(
            where
            + "".join(
                traceback.format_exception(
                    unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback
                )
            )
        )

    def hold_printed(kind, value, trace) -> None:
        held.append("".join(traceback.format_exception(kind, value, trace)))

    sys.unraisablehook, sys.excepthook = hold_unraisable, hold_printed
    failed = True
    try:
        yield
        failed = False
    finally:
        sys.unraisablehook, sys.excepthook = hooks
        if held and (show_on_error or not failed):
            click.echo("".join(held).rstrip("\n"), err=True)
