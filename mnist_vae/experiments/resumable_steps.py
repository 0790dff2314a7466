"""A benchmark that resumes at the step it reached.

A benchmark works in ``out``'s stage (``io.locked_stage``: kept after a crash, a
kill or Ctrl-C) and records what it is for there first (``runs.interrupted``). Each
finished step's result is then written at once, as a small JSON file in ``steps/``,
and runs it trains go to ``runs``-style folders in the stage, themselves resumable.
Rerunning the same command continues: finished steps are read back, not recomputed.
Every step is seeded on its own, so a resumed benchmark gives the results an
uninterrupted one would have.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mnist_vae.io import locked_stage, write_json_atomic
from mnist_vae.runs.interrupted import BENCHMARK, check_interrupted, write_intent

FOLDER = "steps"


class Steps:
    """The finished steps of a benchmark in ``stage``, by name."""

    def __init__(self, stage: Path, started: float) -> None:
        self.folder = stage / FOLDER
        self.folder.mkdir(exist_ok=True)
        self.started = started
        self._done: dict[str, dict] = {}
        for path in self.folder.glob("*.json"):
            if path.name.startswith("."):  # a write the interruption cut short
                continue
            try:
                step = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # unreadable: the step is done again
            if isinstance(step, dict) and "result" in step:
                self._done[path.stem] = step
        # The wall time of the work kept so far (up to the last step finished before).
        self.earlier_seconds = max(
            (s.get("seconds", 0.0) for s in self._done.values()), default=0.0
        )

    def done(self, names: list[str]) -> int:
        """How many of ``names`` are finished."""
        return sum(name in self._done for name in names)

    def get(self, name: str) -> Any | None:
        """The result of step ``name``, if it finished before; None if it is still to do."""
        step = self._done.get(name)
        return None if step is None else step["result"]

    def record(self, name: str, result: Any) -> Any:
        """Keep step ``name``'s ``result`` (JSON-able); returns it as it reads back."""
        step = {"result": result, "seconds": self.seconds()}
        write_json_atomic(self.folder / f"{name}.json", step)
        self._done[name] = json.loads((self.folder / f"{name}.json").read_text())
        return self._done[name]["result"]

    def seconds(self) -> float:
        """The benchmark's wall time: this process's, after the work kept from earlier ones."""
        return round(self.earlier_seconds + time.perf_counter() - self.started, 1)


def data_identity(data) -> dict:
    """What a resumed benchmark checks it has the same data as: each split's hashes."""
    return {name: data.provenance[name] for name in ("train_sha256", "test_sha256")}


def resuming_only(report: Callable[[str], None]) -> Callable[[str], None]:
    """A reporter for a run trained inside a benchmark: only its "resuming ..." line."""
    return lambda message: report(f"  {message}") if message.startswith("resuming") else None


@contextmanager
def resumable_stage(
    out: Path,
    intent: dict[str, Any],
    *,
    overwrite: bool,
    restart: bool,
    started: float,
    names: list[str],
    report: Callable[[str], None],
) -> Iterator[tuple[Path, Steps]]:
    """``out``'s locked stage and its steps, continuing an interrupted run of ``intent``.

    An interrupted benchmark of ``out`` with another intent is a usage error unless
    ``restart`` (discard it); ``names`` are all the steps, for the "resuming" line.
    """
    resuming = check_interrupted(
        out,
        BENCHMARK,
        intent,
        restart=restart,
        advice="rerun it with its own settings to continue it, or pass --restart to discard it",
    )
    with locked_stage(out, overwrite=overwrite, scratch=(BENCHMARK.file, FOLDER)) as (stage, _):
        write_intent(stage, BENCHMARK, intent)
        steps = Steps(stage, started)
        if resuming:
            report(f"resuming {out}: {steps.done(names)} of {len(names)} steps done")
        yield stage, steps
