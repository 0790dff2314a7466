"""What a command shows on stderr besides its result and its one-line error.

The library's notes (``MnistVaeNote``s: leftovers of killed writers, a replaced
cached copy of a pretrained model) become one
``note: ...`` line each, once; and the exceptions Python can only print ("Exception
ignored in ...", e.g. from h5py objects of a file whose writes failed) are held back, so
they cannot bury a one-line error. ``say`` is how a line reaches the user (the CLI's
``click.echo``); by default it is printed to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator


def to_stderr(text: str) -> None:
    """The default ``say``: one line (or block) on stderr."""
    print(text, file=sys.stderr)


@contextlib.contextmanager
def notes(say: Callable[[str], None] = to_stderr) -> Iterator[None]:
    """Show the library's notes (``MnistVaeNote``) as ``note: ...``, each once."""
    from mnist_vae.errors import MnistVaeNote

    shown: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", MnistVaeNote)
        original = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, MnistVaeNote):
                return original(message, category, filename, lineno, file, line)
            text = str(message)
            if text not in shown:
                shown.add(text)
                say(f"note: {text}")

        warnings.showwarning = show
        yield


@contextlib.contextmanager
def held_back_unraisable(
    show_on_error: bool, say: Callable[[str], None] = to_stderr
) -> Iterator[None]:
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
            say("".join(held).rstrip("\n"))
