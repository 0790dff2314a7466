"""Interrupted work: what a stage was for, and what a rerun does with it.

Work that writes a folder ``out`` (a training run, a benchmark) happens in ``out``'s
stage, the fixed hidden sibling ``io.locked_stage`` keeps after a crash, a kill or
Ctrl-C. The first thing written there is an intent file: what the work is for (its
config, and for a benchmark its data). A rerun with the same intent continues the
work; one with another intent is a usage error unless the user discards the stage
(``--restart``), so nothing is ever mixed or silently thrown away.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_vae.errors import RunError, UsageError, WorkKeptError
from mnist_vae.io import RESULT_MARKERS, training_stage_path, write_json_atomic
from mnist_vae.io.folders import unrecognised_stage
from mnist_vae.io.locks import take_lock
from mnist_vae.io.marks import TRAINING as TRAINING_STAGE
from mnist_vae.io.marks import foreign_stage


@dataclass(frozen=True)
class WorkKind:
    """One kind of resumable work: its intent file in the stage, and its name in messages."""

    file: str
    noun: str


TRAINING = WorkKind("training.json", "run")
BENCHMARK = WorkKind("benchmark.json", "benchmark")
KINDS = (TRAINING, BENCHMARK)


def read_intent(out: str | Path, kind: WorkKind) -> dict | None:
    """The intent of ``out``'s interrupted ``kind`` of work, or None if there is none
    (or it does not read: ``damaged_intent`` tells those apart)."""
    return _read(training_stage_path(Path(out)) / kind.file)


def _read(path: Path) -> dict | None:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):  # absent, or damaged
        return None
    return stored if isinstance(stored, dict) else None


def damaged_intent(out: str | Path, kind: WorkKind) -> str | None:
    """What is wrong with the intent file in ``out``'s stage when it is there, does not
    read, and the stage holds other work beside it (checkpoints): that work cannot be
    matched to its settings, and must not be taken for nothing to resume."""
    stage = training_stage_path(Path(out))
    path = stage / kind.file
    if not path.is_file() or _read(path) is not None:
        return None
    try:
        others = [
            entry for entry in os.listdir(stage) if entry != kind.file and not entry.startswith(".")
        ]
    except OSError:
        others = []
    if not others:
        return None  # nothing beside it to lose: the stage is discarded as before
    try:
        json.loads(path.read_text())
        cause = "not a JSON object"
    except (OSError, ValueError) as error:
        cause = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{path} is damaged ({cause})"


def damaged_intent_error(out: str | Path, kind: WorkKind, problem: str) -> WorkKeptError:
    """The one line for ``damaged_intent``: what is wrong, and the two ways on."""
    return WorkKeptError(
        f"{problem}: the interrupted {kind.noun} of {out} cannot be matched to its settings, "
        "so it is kept as it is; restore that file, or pass --restart to discard the "
        "interrupted work"
    )


def leftover_intent(out: str | Path, kind: WorkKind) -> dict | None:
    """The intent a finished result ``out`` still holds, or None.

    The work was stopped after its stage became ``out`` and before what only resuming
    needs was removed from it (the intent file goes last); a rerun finishes that.
    """
    out = Path(out).expanduser()
    if not any((out / name).is_file() for name in RESULT_MARKERS):
        return None
    return _read(out / kind.file)


def write_intent(stage: Path, kind: WorkKind, intent: dict[str, Any]) -> None:
    """Record what the work in ``stage`` is for, unless a resumed stage already says."""
    if not (stage / kind.file).exists():
        write_json_atomic(stage / kind.file, intent)


def check_interrupted(
    out: str | Path,
    kind: WorkKind,
    intent: dict[str, Any],
    *,
    advice: str,
    restart: bool = False,
    resume: bool = False,
    normalise: Callable[[dict], dict] | None = None,
) -> bool:
    """Before any work: decide what to do with an interrupted ``kind`` of work to ``out``.

    Returns True when there is earlier work to continue: its stored intent matches
    ``intent`` (every key given; the stored file may hold more), or ``resume`` accepts
    any. A stage with nothing resumable in it, or any stage with ``restart``, is
    discarded (False). Another intent, or another kind of work, is a usage error
    ending with ``advice``; an intent file that does not read beside other work
    (``damaged_intent``) is a ``WorkKeptError``, the work kept. A stage another
    process is working in is a ``RunError``: it is neither continued nor discarded; so
    is a stage that holds anything without mnist-vae's marker (a user's folder), as a
    usage error, unless it is an earlier version's training stage (its intent file).
    ``normalise`` brings a stored intent up to date before the comparison (e.g. fills
    in settings added since it was written).
    """
    out = Path(out)
    stage = training_stage_path(out)
    try:
        descriptor = os.open(stage, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        _claim_stage(descriptor, stage, out)
        stored = read_intent(out, kind)
        problem = damaged_intent(out, kind) if stored is None and not restart else None
        if problem is not None:
            raise damaged_intent_error(out, kind, problem)
        other = _other_work(out, kind) if stored is None else None
        if restart or (stored is None and other is None):
            shutil.rmtree(stage, ignore_errors=True)  # asked to discard, or nothing resumable
            return False
        if other is not None:
            raise UsageError(
                f"{stage.name} holds an interrupted {other.noun} of {out}, not a {kind.noun}; "
                "choose another --out, or pass --restart to discard it"
            )
        _check_same_settings(
            out,
            kind,
            normalise(stored) if normalise else stored,
            intent,
            advice=advice,
            resume=resume,
        )
        return True
    finally:
        os.close(descriptor)


def _claim_stage(descriptor: int, stage: Path, out: Path) -> None:
    """Lock the stage (``descriptor`` is open on it) for the decision, and make sure it is
    mnist-vae's: another process's work, or a user's folder, must be neither continued nor
    discarded."""
    if not take_lock(descriptor):  # held while deciding
        raise RunError(
            f"{out} is being written by another mnist-vae process (its work is in "
            f"{stage.name}); wait for it to finish or choose another --out"
        ) from None
    if foreign_stage(stage, TRAINING_STAGE, out):
        raise UsageError(unrecognised_stage(stage, out))


def _check_same_settings(
    out: Path, kind: WorkKind, stored: dict, intent: dict[str, Any], *, advice: str, resume: bool
) -> None:
    """Earlier work continues only with the settings it began with (or ``resume``: any)."""
    differences = _differences(stored, intent)
    if resume or not differences:
        return
    shown = ", ".join(differences[:3]) + (", ..." if len(differences) > 3 else "")
    raise UsageError(
        f"an interrupted {kind.noun} of {out} with other settings ({shown}) is in "
        f"{training_stage_path(out).name}; {advice}"
    )


def _other_work(out: Path, kind: WorkKind) -> WorkKind | None:
    """Another kind of work whose intent is in ``out``'s stage, if any."""
    return next(
        (other for other in KINDS if other != kind and read_intent(out, other) is not None), None
    )


def _differences(stored: dict, given: dict) -> list[str]:
    """The dotted names of the settings ``stored`` holds otherwise than ``given``.

    Only ``given``'s keys count (the stored intent may hold more, e.g. the command);
    both sides are compared as JSON holds them (tuples are lists). ``config.`` is left
    out of the names: the user knows them as settings.
    """
    stored, given = _plain(stored), _plain(given)
    return [
        name.removeprefix("config.")
        for key in given
        for name in _changed(stored.get(key), given[key], key)
    ]


def _changed(stored: Any, given: Any, name: str) -> list[str]:
    if isinstance(stored, dict) and isinstance(given, dict):
        keys = sorted(set(stored) | set(given))
        return [
            changed
            for key in keys
            for changed in _changed(stored.get(key), given.get(key), f"{name}.{key}")
        ]
    return [] if stored == given else [name]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
