"""The library's notes as one line each, and exceptions Python can only print held back."""

from __future__ import annotations

import sys
import warnings

import pytest

from mnist_vae.io import StaleStagesWarning
from mnist_vae.notices import held_back_unraisable, notes


def test_each_note_is_said_once_and_other_warnings_pass_through():
    said: list[str] = []
    with warnings.catch_warnings(record=True) as others, notes(said.append):
        warnings.simplefilter("always", UserWarning)
        for _ in range(2):
            warnings.warn("leftovers in runs/", StaleStagesWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert said == ["note: leftovers in runs/"]
    assert [str(w.message) for w in others] == ["something else"]


class Unraisable:
    """What ``sys.unraisablehook`` gets."""

    exc_type, exc_value, exc_traceback = ValueError, ValueError("in __del__"), None
    object = "a closed file"


def test_held_back_exceptions_are_said_after_a_success():
    said: list[str] = []
    hooks = sys.unraisablehook, sys.excepthook
    with held_back_unraisable(show_on_error=False, say=said.append):
        sys.unraisablehook(Unraisable())
        assert said == []
    assert (sys.unraisablehook, sys.excepthook) == hooks
    assert said == ["Exception ignored in: 'a closed file'\nValueError: in __del__"]


@pytest.mark.parametrize(("show_on_error", "shown"), [(False, 0), (True, 1)])
def test_after_a_failure_they_are_said_only_when_asked(show_on_error, shown):
    said: list[str] = []
    with (
        pytest.raises(RuntimeError),
        held_back_unraisable(show_on_error=show_on_error, say=said.append),
    ):
        sys.excepthook(KeyError, KeyError("h5py"), None)
        raise RuntimeError("the command failed")
    assert len(said) == shown
