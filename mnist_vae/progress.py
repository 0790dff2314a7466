"""Progress of long work, shown one way for the whole process.

Every layer reports through this module, and the command line decides once how it
shows (``configure``): a live rich bar on a terminal, plain lines for a log when
standard error is not a terminal, or nothing (``--quiet``). Work opens a task and
advances it::

    from mnist_vae import progress

    with progress.task("IWAE bound", total=len(images), unit="images") as advance:
        for chunk in chunks:
            ...
            advance(len(chunk))

Tasks nest (a benchmark's steps, and the current step's own work); each knows its
elapsed time and, from its own rate so far, the time left (``Task.status``). Plain
lines are written when a task starts, then when another 10 % is done (at least 5 s
after its last line) or 30 s have passed, and when it ends; a task opened with
``every=True`` (a benchmark's steps) writes one at every advance. A task ended by an
exception writes no end line: the error says what happened.

A library caller that never calls ``configure`` gets a live bar on a terminal and
nothing otherwise (``configure(mode="plain")`` asks for the lines).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

AUTO, LIVE, PLAIN, OFF = "auto", "live", "plain", "off"
MODES = (AUTO, LIVE, PLAIN, OFF)
PLAIN_FRACTION = 0.10  # plain mode: a line when another tenth is done ...
PLAIN_MIN_GAP = 5.0  # ... at least this many seconds after the task's last line,
PLAIN_SECONDS = 30.0  # or when this many seconds have passed since it
INDENT = "  "  # per level of nesting

clock = time.monotonic  # the time source (tests replace it)


@dataclass(frozen=True)
class Settings:
    """How progress shows: ``mode`` (None: not configured, a library caller) and where."""

    mode: str | None = None
    stream: IO[str] | None = None


_settings = Settings()
_shown: list[Task] = []  # the open tasks that show, outermost first
_display: _Display | None = None  # how they show, while any is open


def configure(*, quiet: bool = False, mode: str = AUTO, stream: IO[str] | None = None) -> Settings:
    """Decide how progress shows in this process; returns the settings replaced (``restore``).

    ``auto``: a live bar if ``stream`` (standard error by default) is a terminal, plain
    lines otherwise. ``quiet`` means ``off``. Tasks already open keep their display.
    """
    global _settings
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    stream = stream if stream is not None else sys.stderr
    if quiet:
        mode = OFF
    elif mode == AUTO:
        mode = LIVE if _is_terminal(stream) else PLAIN
    previous, _settings = _settings, Settings(mode, stream)
    return previous


def restore(settings: Settings) -> None:
    """Go back to ``settings`` (what ``configure`` returned)."""
    global _settings
    _settings = settings


def current_mode() -> str:
    """``live``, ``plain`` or ``off``: how a task opened now would show."""
    if _display is not None:
        return _display.mode
    return _resolve()[0]


def _resolve() -> tuple[str, IO[str]]:
    if _settings.mode is not None:
        return _settings.mode, _settings.stream
    stream = sys.stderr  # a library caller: a bar on a terminal, else nothing
    return (LIVE if _is_terminal(stream) else OFF), stream


def _is_terminal(stream: IO[str]) -> bool:
    """A terminal that can redraw a bar (or a notebook, which rich draws in)."""
    import os

    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        tty = False
    if tty:
        return os.environ.get("TERM", "").lower() not in ("dumb", "unknown")
    from rich.console import Console

    return Console(file=stream).is_jupyter


class Task:
    """One piece of work: call it to advance (``advance(n)``), or ``update`` it.

    ``completed`` may start above 0 (work done before, e.g. a resumed benchmark's
    steps); the time left is estimated from the work done since the task opened.
    """

    def __init__(
        self, description: str, total: float | None, unit: str, completed: float, every: bool
    ) -> None:
        self.description = description
        self.title = description  # as opened: the start and end lines say this
        self.total = total
        self.unit = unit
        self.completed = completed
        self.initial = completed
        self.every = every
        self.depth = 0
        self.started = clock()
        self._line_time = self.started
        self._line_done = completed

    def __call__(self, amount: float = 1) -> None:
        self.update(completed=self.completed + amount)

    def update(
        self,
        *,
        completed: float | None = None,
        description: str | None = None,
        total: float | None = None,
    ) -> None:
        """Set the work done (not added: ``advance`` adds), the description or the total."""
        if completed is not None:
            self.completed = completed
        if description is not None:
            self.description = description
        if total is not None:
            self.total = total
        if _display is not None and self in _shown:
            _display.update(self)

    @property
    def elapsed(self) -> float:
        """Seconds since the task opened."""
        return clock() - self.started

    @property
    def remaining(self) -> float | None:
        """Seconds left at the rate since the task opened; None until there is a rate."""
        if self.total is None:
            return None
        left = max(0.0, self.total - self.completed)
        done = self.completed - self.initial
        if left == 0:
            return 0.0
        if done <= 0:
            return None
        return left * self.elapsed / done

    def counts(self) -> str:
        """``300/1,000 images (30%)``, or ``300 images`` without a total."""
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None:
            return f"{_number(self.completed)}{unit}" if self.completed else ""
        share = f" ({math.floor(100 * self.completed / self.total)}%)" if self.total else ""
        return f"{_number(self.completed)}/{_number(self.total)}{unit}{share}"

    def times(self) -> str:
        """``12 s elapsed, about 28 s left``."""
        left = self.remaining
        ahead = "" if left is None or left == 0 else f", about {format_seconds(left)} left"
        return f"{format_seconds(self.elapsed)} elapsed{ahead}"

    def status(self) -> str:
        """``300/1,000 images (30%), 12 s elapsed, about 28 s left``."""
        return ", ".join(part for part in (self.counts(), self.times()) if part)

    def _line_due(self, now: float) -> bool:
        """Plain mode: whether progress deserves a line now (``every``, 10 %, or 30 s)."""
        if self.completed == self._line_done:
            return False
        if self.every:
            return True
        since = now - self._line_time
        if since >= PLAIN_SECONDS:
            return True
        step = (self.total or 0) * PLAIN_FRACTION
        return bool(step) and self.completed - self._line_done >= step and since >= PLAIN_MIN_GAP


@contextmanager
def task(
    description: str,
    total: float | None = None,
    unit: str = "",
    *,
    completed: float = 0,
    every: bool = False,
    show: bool = True,
) -> Iterator[Task]:
    """Open a task: yields the ``Task``, to call with each amount of work done.

    ``total`` None: the amount is not known ahead (no percentage, no time left).
    ``every``: plain mode writes a line at every advance, not every tenth. ``show``
    False: the task counts but never shows (e.g. a caller that asked for no progress).
    """
    global _display
    work = Task(description, total, unit, completed, every)
    if not show:
        yield work
        return
    if _display is None:
        mode, stream = _resolve()
        _display = _Live(stream) if mode == LIVE else _Plain(stream) if mode == PLAIN else _Off()
    work.depth = len(_shown)
    _shown.append(work)
    display = _display
    display.add(work)
    failed = False
    try:
        yield work
    except BaseException:
        failed = True
        raise
    finally:
        if work in _shown:
            _shown.remove(work)
        display.remove(work, finished=not failed)
        if not _shown and _display is display:
            _display = None
            display.stop()


def note(message: str) -> None:
    """A line among the progress (a finished epoch's numbers): above a live bar, a plain
    line in a log, nothing when progress is off."""
    if _display is not None:
        _display.note(message, depth=len(_shown) - 1)
        return
    mode, stream = _resolve()
    if mode != OFF:
        _write(stream, message)


def format_seconds(seconds: float) -> str:
    """``45 s``, ``6 min 05 s``, ``2 h 03 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def _write(stream: IO[str], line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


class _Display:
    mode = OFF

    def add(self, work: Task) -> None: ...

    def update(self, work: Task) -> None: ...

    def remove(self, work: Task, *, finished: bool) -> None: ...

    def note(self, message: str, depth: int) -> None: ...

    def stop(self) -> None: ...


class _Off(_Display):
    """``--quiet``: tasks count, nothing shows."""


class _Plain(_Display):
    """Lines for a log: start, every tenth (or 30 s), end; nested tasks indented."""

    mode = PLAIN

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def _line(self, work: Task, text: str, *, title: bool = False) -> None:
        name = work.title if title else work.description
        _write(self.stream, f"{INDENT * work.depth}{name}: {text}")

    def add(self, work: Task) -> None:
        unit = f" {work.unit}" if work.unit else ""
        size = "" if work.total is None else f", {_number(work.total)}{unit}"
        before = f" ({_number(work.completed)} done before)" if work.completed else ""
        self._line(work, f"started{size}{before}", title=True)

    def update(self, work: Task) -> None:
        now = clock()
        if work.total is not None and work.completed >= work.total and not work.every:
            return  # the end line says it
        if work._line_due(now):
            work._line_time, work._line_done = now, work.completed
            self._line(work, work.status())

    def remove(self, work: Task, *, finished: bool) -> None:
        if not finished:
            return
        took = format_seconds(work.elapsed)
        if work.total is not None and work.completed < work.total:  # stopped early
            self._line(work, f"done at {work.counts()} in {took}", title=True)
        elif work.completed:
            unit = f" {work.unit}" if work.unit else ""
            self._line(work, f"done, {_number(work.completed)}{unit} in {took}", title=True)
        else:
            self._line(work, f"done in {took}", title=True)

    def note(self, message: str, depth: int) -> None:
        _write(self.stream, f"{INDENT * max(depth, 0)}{message}")


class _Live(_Display):
    """A rich bar per open task, nested ones indented; gone when the outermost ends."""

    mode = LIVE

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress

        console = Console(file=stream)

        def description(work: Task) -> str:  # the rest of the row takes up to ~56 columns
            return _shortened(f"{INDENT * work.depth}{work.description}", console.width - 56)

        self.progress = Progress(
            _column(description),
            BarColumn(bar_width=16),
            _column(_live_counts),
            _column(_live_times),
            console=console,
            transient=True,
        )
        self.ids: dict[int, Any] = {}
        self.progress.start()

    def add(self, work: Task) -> None:
        self.ids[id(work)] = self.progress.add_task(
            work.description, total=work.total, completed=work.completed, work=work
        )

    def update(self, work: Task) -> None:
        self.progress.update(self.ids[id(work)], completed=work.completed, total=work.total)

    def remove(self, work: Task, *, finished: bool) -> None:
        self.progress.remove_task(self.ids.pop(id(work)))

    def note(self, message: str, depth: int) -> None:
        self.progress.console.print(message, highlight=False, markup=False, soft_wrap=True)

    def stop(self) -> None:
        self.progress.stop()


def _live_counts(work: Task) -> str:
    """``300/1,000 images``: the bar's short form of ``Task.counts`` (the bar is the share)."""
    unit = f" {work.unit}" if work.unit else ""
    if work.total is None:
        return f"{_number(work.completed)}{unit}" if work.completed else ""
    return f"{_number(work.completed)}/{_number(work.total)}{unit}"


def _live_times(work: Task) -> str:
    """``0:12, 0:28 left``: the bar's short form of ``Task.times``."""
    left = work.remaining
    return _clock(work.elapsed) + (f", {_clock(left)} left" if left else "")


def _shortened(text: str, width: int) -> str:
    width = max(width, 12)
    return text if len(text) <= width else text[: width - 1] + "…"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _column(text):
    """A rich column showing ``text(task)`` of our task (rich is imported only when used)."""
    from rich.progress import ProgressColumn
    from rich.table import Column
    from rich.text import Text

    class TaskText(ProgressColumn):
        def render(self, rich_task) -> Text:
            return Text(text(rich_task.fields["work"]))

    return TaskText(table_column=Column(no_wrap=True))
