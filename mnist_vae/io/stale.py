"""What killed writers left beside their results: found by name, proven mnist-vae's by
its marker (``marks``), abandoned when nobody holds its lock; described, and removed on
request (``mnist-vae clean``). An item named like one but without the proof (a user's,
or one left by a version before the markers) is reported and never touched."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from mnist_vae.declarations import option
from mnist_vae.errors import MnistVaeNote
from mnist_vae.io.locks import path_exists, still_names, take_lock
from mnist_vae.io.marks import OLD, PARTIAL, TRAINING, has_stage_marker, is_file_token

# What a staging item is, by its name (``tempfile`` adds 8 characters of [a-z0-9_]).
PARTIAL_FOLDER = "partial folder"


PARTIAL_FILE = "partial file"


OLD_FOLDER = "old swap folder"


INTERRUPTED = "interrupted run"


# What a ``.NAME.training`` stage holds resumable work of, by the intent file written
# first (``mnist_vae.runs.interrupted``: TRAINING, BENCHMARK); without one, nothing.
INTENT_FILES = {"training.json": "training", "benchmark.json": "benchmark"}


# ``tempfile``'s 8 characters of [a-z0-9_] (folders, and files before the tokens), or a
# staged file's token (``marks.file_token``).
_RANDOM = r"(?P<token>[a-z0-9_]{8}|[0-9a-f]{16})"


_PATTERNS = (
    (PARTIAL_FOLDER, True, re.compile(rf"\.(?P<name>.+)\.{_RANDOM}\.partial")),
    (OLD_FOLDER, True, re.compile(rf"\.(?P<name>.+)\.{_RANDOM}\.old")),
    (INTERRUPTED, True, re.compile(r"\.(?P<name>.+)\.training")),
    (PARTIAL_FILE, False, re.compile(rf"\.(?P<name>.+)\.{_RANDOM}\.partial(?P<suffix>\.[^.]*)?")),
)


def _proven(path: Path, kind: str, target: Path) -> bool:
    """Whether ``path`` carries mnist-vae's proof of origin for its ``kind`` of staging."""
    if kind == PARTIAL_FILE:
        match = _PATTERNS[-1][2].fullmatch(path.name)
        return match is not None and is_file_token(target.name, match["token"])
    marker = {PARTIAL_FOLDER: PARTIAL, OLD_FOLDER: OLD, INTERRUPTED: TRAINING}[kind]
    if kind == PARTIAL_FOLDER and path.name.endswith(".training"):
        marker = TRAINING  # a training stage killed before its intent
    return has_stage_marker(path, marker, target)


@dataclass(frozen=True)
class StaleStage:
    """A staging item no process holds: what a killed writer left beside its result.

    ``kind`` is ``PARTIAL_FOLDER``, ``PARTIAL_FILE``, ``OLD_FOLDER`` or ``INTERRUPTED``
    (resumable work, ``work``: a ``training``, which ``mnist-vae train --resume TARGET``
    continues, or a ``benchmark``, which the same command run again continues; a
    ``.NAME.training`` folder with nothing to resume is a ``PARTIAL_FOLDER``);
    ``target`` is the result it was writing; ``size`` in bytes; ``age`` in seconds
    since anything in it changed.
    """

    path: Path
    kind: str
    target: Path
    size: int
    age: float
    work: str | None = None

    @property
    def resumable(self) -> bool:
        return self.kind == INTERRUPTED

    def describe(self) -> str:
        """What it is, in a few words, for listings."""
        name = self.target.name
        if self.kind == INTERRUPTED and self.work == "training":
            return (
                f"interrupted training of {name}: 'mnist-vae train --resume "
                f"{shlex.quote(str(self.target))}' continues it"
            )
        if self.kind == INTERRUPTED:
            return f"interrupted {self.work} of {name}: the same command run again continues it"
        if self.kind == OLD_FOLDER:
            text = f"the previous {name}, moved aside by a killed --overwrite"
            if not path_exists(self.target):
                text += f"; {name} itself is missing, and removing this puts it back"
            return text
        if self.path.name.endswith(".training"):
            return f"unfinished training of {name}, killed before it had anything to resume"
        what = "file" if self.kind == PARTIAL_FILE else "folder"
        return f"unfinished {what} {name}, being written when its process was killed"


def stale_stages(folder: Path) -> list[StaleStage]:
    """The abandoned staging items of mnist-vae's in ``folder`` (not its subfolders).

    An item is mnist-vae's when its name says what it is and it carries the proof
    (``marks``); abandoned when its lock can be taken: the process that made it is
    gone. One a running process holds is never listed; neither is anything whose
    lock cannot be tested (another user's file, say), nor anything without the proof
    (see ``unrecognised_stages``).
    """
    return _scan(folder)[0]


def unrecognised_stages(folder: Path) -> list[Path]:
    """What in ``folder`` is named like an abandoned staging item but lacks mnist-vae's
    proof of origin: a user's (``.notes.training/``), or left by an older version.
    ``clean`` reports these and leaves them alone."""
    return _scan(folder)[1]


def _scan(folder: Path) -> tuple[list[StaleStage], list[Path]]:
    folder = Path(folder)
    found: list[StaleStage] = []
    foreign: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return [], []
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False)
        except OSError:
            continue
        for kind, wants_dir, pattern in _PATTERNS:
            match = pattern.fullmatch(entry.name)
            if match is None or not (is_dir if wants_dir else is_file):
                continue
            target = folder / (match["name"] + (match.groupdict().get("suffix") or ""))
            if not _proven(Path(entry.path), kind, target):
                if _abandoned(Path(entry.path)):
                    foreign.append(Path(entry.path))
                break
            work = None
            if kind == INTERRUPTED:
                work = next(
                    (
                        work
                        for file, work in INTENT_FILES.items()
                        if (Path(entry.path) / file).is_file()
                    ),
                    None,
                )
                kind = INTERRUPTED if work else PARTIAL_FOLDER  # killed before its intent
            if _abandoned(Path(entry.path)):
                size, newest = _size_and_newest(Path(entry.path))
                found.append(
                    StaleStage(
                        Path(entry.path), kind, target, size, max(0.0, time.time() - newest), work
                    )
                )
            break
    return found, foreign


def _abandoned(path: Path) -> bool:
    """Whether no process holds ``path``'s lock (tested by taking it for an instant)."""
    descriptor = _open_locked(path)
    if descriptor is None:
        return False
    os.close(descriptor)
    return True


def _open_locked(path: Path) -> int | None:
    """A descriptor holding ``path``'s lock, or None when it is held, gone or unreadable."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    if take_lock(descriptor, patience=0) and still_names(path, descriptor):
        return descriptor
    os.close(descriptor)
    return None


def _size_and_newest(path: Path) -> tuple[int, float]:
    """Bytes in ``path`` (a file, or a folder's files) and the newest change time in it."""
    paths = [path]
    if path.is_dir():
        for root, folders, files in os.walk(path):
            paths += [os.path.join(root, name) for name in [*folders, *files]]
    size, newest = 0, 0.0
    for item in paths:
        try:
            info = os.lstat(item)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            size += info.st_size
        newest = max(newest, info.st_mtime)
    return size, newest


def remove_stale(stage: StaleStage) -> str:
    """Remove one abandoned staging item, under its lock; what was done, in words.

    An old swap folder whose result is missing (the kill fell between the two
    renames of an ``--overwrite``) gives the result back instead. An item a process
    has taken up since the scan is left alone.
    """
    descriptor = _open_locked(stage.path)
    if descriptor is None:
        if not path_exists(stage.path):
            return f"{stage.path} is gone already"
        return f"left {stage.path} alone: a running process holds it now"
    try:
        if not _proven(stage.path, stage.kind, stage.target):
            return f"left {stage.path} alone: not recognised as mnist-vae's (no marker)"
        kept = stage.path / stage.target.name
        if stage.kind == OLD_FOLDER and kept.is_dir() and not path_exists(stage.target):
            os.rename(kept, stage.target)
            shutil.rmtree(stage.path)
            return f"put {stage.target} back from {stage.path.name}"
        if stage.path.is_dir():
            shutil.rmtree(stage.path)
        else:
            stage.path.unlink()
        return f"removed {stage.path}"
    finally:
        os.close(descriptor)


class StaleStagesWarning(MnistVaeNote):
    """A folder being written to holds staging items that killed processes left."""


def warn_stale_stages(folder: Path, *, writing: Path | None = None) -> None:
    """Warn (``StaleStagesWarning``, one line) about abandoned staging items in ``folder``.

    Called by the output checks, so every writer mentions them; the CLI shows the
    warning as a ``note:`` line. The interrupted work of ``writing`` itself is left
    out: the training or benchmark writing it resumes it or says why not.
    """
    try:
        stages = [
            stage
            for stage in stale_stages(folder)
            if not (
                writing is not None
                and stage.target == Path(writing)
                and stage.path.name.endswith(".training")
            )
        ]
    except Exception:  # a note must never stop the work
        return
    note = stale_note(folder, stages)
    if note:
        warnings.warn(note, StaleStagesWarning, stacklevel=3)


def stale_note(folder: Path, stages: list[StaleStage]) -> str | None:
    """One line about ``stages`` (found in ``folder``) and how to clean them, or None."""
    if not stages:
        return None
    folder = Path(folder)
    where = "the current folder" if folder == Path(".") else str(folder)
    command = "mnist-vae clean" + ("" if folder == Path(".") else f" {shlex.quote(str(folder))}")
    loose = [stage for stage in stages if not stage.resumable]
    resumable = [stage for stage in stages if stage.resumable]
    if loose:
        folders = all(stage.kind != PARTIAL_FILE for stage in loose)
        noun = (
            "staging folder"
            if folders
            else "staging file"
            if all(stage.kind == PARTIAL_FILE for stage in loose)
            else "staging item"
        )
        text = (
            f"{_count(len(loose), 'abandoned ' + noun)} in {where} (from killed "
            f"processes, {human_size(sum(stage.size for stage in loose))})"
        )
        if resumable:
            return (
                f"{text}, and {_count(len(resumable), 'interrupted run')} "
                f"to resume or remove; see '{command}'"
            )
        return f"{text}; remove them with '{command}'"
    return (
        f"{_count(len(resumable), 'interrupted run')} in {where} (from killed "
        f"processes, {human_size(sum(stage.size for stage in resumable))}); resume or "
        f"remove: see '{command}'"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def human_size(size: float) -> str:
    """``1.2 MB``: bytes in decimal units."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def human_age(seconds: float) -> str:
    """``40 s``, ``12 min``, ``5 h``, ``3 days``."""
    for limit, unit, scale in ((120, "s", 1), (120 * 60, "min", 60), (48 * 3600, "h", 3600)):
        if seconds < limit:
            return f"{seconds / scale:.0f} {unit}"
    return f"{seconds / 86400:.0f} days"


@dataclass(frozen=True)
class CleanRequest:
    """What ``mnist-vae clean`` is asked: the folders to look in (none: the current
    one), whether to remove (``yes``), and whether interrupted runs go too. The
    command's argument and flags are these fields, declared here once."""

    folders: tuple[str | Path, ...] = option(
        (),
        "The folders to look in.",
        path="existing folder",
        metavar="[FOLDER]...",
        argument=True,
    )
    yes: bool = option(False, "Remove them; without it they are only listed.", switch=True)
    include_interrupted: bool = option(
        False,
        "With --yes, remove interrupted runs too. They are resumable work: 'mnist-vae "
        "train --resume OUT' continues a training from its last checkpoint, and the same "
        "'mnist-vae benchmark' command run again continues a benchmark.",
        switch=True,
    )


def clean_stages(request: CleanRequest, *, report=print, failed=print) -> list[StaleStage]:
    """List what killed processes left in the folders; with ``yes``, remove it.

    ``report`` gets the listing and each removal, ``failed`` each item that could not
    be removed; those make a ``RunError`` at the end. Interrupted runs (resumable) are
    removed only with ``include_interrupted``. Returns what was found::

        from mnist_vae.io import CleanRequest, clean_stages

        clean_stages(CleanRequest((Path("runs"),), yes=True))
    """
    from mnist_vae.errors import RunError

    searched = tuple(map(Path, request.folders)) or (Path("."),)
    found = [stage for folder in searched for stage in stale_stages(folder)]
    for path in (path for folder in searched for path in unrecognised_stages(folder)):
        report(f"{path}: not recognised as mnist-vae's (no staging marker), left alone")
    if not found:
        where = ", ".join(map(str, request.folders)) if request.folders else "the current folder"
        report(f"nothing to clean in {where}")
        return found
    width = max(len(str(stage.path)) for stage in found)
    for stage in found:
        report(
            f"{stage.path!s:<{width}}  {human_size(stage.size):>8}  "
            f"{human_age(stage.age):>7} old  {stage.describe()}"
        )
    loose = [stage for stage in found if not stage.resumable]
    resumable = [stage for stage in found if stage.resumable]
    if not request.yes:
        if loose:
            report(f"{_items(loose)} left by killed processes; pass --yes to remove {_them(loose)}")
        if resumable:
            report(
                f"{_items(resumable, 'interrupted run')} can be resumed; pass --yes "
                f"--include-interrupted to remove {_them(resumable)} as well"
            )
        return found
    chosen = loose + (resumable if request.include_interrupted else [])
    failures = 0
    for stage in chosen:
        try:
            report(remove_stale(stage))
        except OSError as error:
            failures += 1
            failed(f"could not remove {stage.path}: {error.strerror or error}")
    if resumable and not request.include_interrupted:
        report(
            f"kept {_items(resumable, 'interrupted run')} (resumable); pass "
            f"--include-interrupted to remove {_them(resumable)} as well"
        )
    if failures:
        raise RunError(f"{failures} of {len(chosen)} could not be removed (see above)")
    return found


def _items(stages: list[StaleStage], noun: str = "staging item") -> str:
    size = human_size(sum(stage.size for stage in stages))
    return f"{len(stages)} {noun}{'' if len(stages) == 1 else 's'} ({size})"


def _them(stages: list[StaleStage]) -> str:
    return "it" if len(stages) == 1 else "them"
