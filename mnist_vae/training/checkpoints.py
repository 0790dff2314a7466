"""Checkpoints that a killed run resumes from, bit for bit: at epoch ends and mid-epoch.

Keras's ``BackupAndRestore`` is the model for this one, but it writes its weights
and its epoch counter in place, one after the other: a kill between the two leaves
weights of epoch e+1 labelled e, and the resumed run repeats an epoch on top of
them. It also leaves out the random generators' states, so a resumed run draws
other noise than an uninterrupted one. Here each checkpoint is a position, E whole
epochs and S steps of the next (S = 0 at an epoch end), and

* ``epoch-E.weights.h5`` (``epoch-E-step-S.weights.h5`` mid-epoch):
  ``model.save_weights`` (every network, every optimizer variable and the
  optimizer's step counter), written beside and renamed into place;
* ``epoch-E[-step-S].seeds.npz``: the state of every ``keras.random.SeedGenerator``
  in the model's layers (the reparameterisation noise, dropout), in layer order, and
  mid-epoch the running totals of the model's metrics (``model.metrics``), so that
  the resumed epoch logs the loss an uninterrupted one logs; and the seconds spent
  training up to it, over every resumed part (``elapsed_seconds``), so that a resumed
  run's ``train_seconds`` is the whole training's, not its last part's;
* ``checkpoint.json``: the positions whose files are complete, oldest first, renamed
  into place only after both files are; it is the one source of truth. It also lists
  the epoch-end ones alone under ``"epochs"``, the whole index before mid-epoch
  checkpoints existed: such an index still loads, and older readers still read it.

The last two checkpoints are kept: a corrupt newest one (a full disk, a bad sector)
is reported in one line and the run resumes from the one before. A missing or
damaged index is reported too, and the checkpoints are then found by their file
names (a pair of files is complete once both have their names: each is renamed into
place whole); when none reads back the run stops (``WorkKeptError``), rather than
start again from step 0 beside them. The data order
needs no state of its own: it is a function of (seed, epoch) (``EpochClock``), so
a resumed epoch skips the batches it trained before (``Fitter.fit``'s
``initial_step``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from mnist_vae.errors import WorkKeptError
from mnist_vae.io import atomic_file, write_json_atomic

INDEX = "checkpoint.json"
KEPT = 2


class Position(NamedTuple):
    """Where training stands: ``epoch`` whole epochs done and ``step`` steps of the next."""

    epoch: int
    step: int = 0

    def describe(self) -> str:
        return f"epoch {self.epoch}" + (f" and {self.step} steps" if self.step else "")


def seed_generators(model) -> list:
    """Every SeedGenerator owned by the model or one of its layers, in a stable order."""
    found, seen = [], set()
    for layer in [model, *model._flatten_layers(include_self=False)]:
        for generator in getattr(layer, "_seed_generators", []):
            if id(generator) not in seen:
                seen.add(id(generator))
                found.append(generator)
    return found


def metric_variables(model) -> list:
    """The variables of the metrics ``fit`` resets every epoch (a Mean's total and count)."""
    return [variable for metric in model.metrics for variable in metric.variables]


def read_index(folder: Path) -> list[Position]:
    """The checkpoints the index lists, oldest first; none without an index.

    An index written before mid-epoch checkpoints (``{"epochs": [...]}``) reads as
    epoch ends. A damaged index raises ``ValueError`` (``checked_index`` says why).
    """
    path = Path(folder) / INDEX
    if not path.exists():
        return []
    index = json.loads(path.read_text())
    try:
        if "checkpoints" not in index:
            return sorted(Position(int(epoch)) for epoch in index["epochs"])
        return sorted(Position(int(c["epoch"]), int(c["step"])) for c in index["checkpoints"])
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"not a checkpoint index ({type(error).__name__}: {error})") from None


def checked_index(folder: Path) -> tuple[list[Position], str | None]:
    """The listed checkpoints and, when the index is missing or damaged while checkpoint
    files are there, what is wrong with it (the positions are then the files')."""
    path = Path(folder) / INDEX
    try:
        listed = read_index(folder)
    except (OSError, ValueError) as error:  # ValueError: also JSON's and UnicodeDecodeError
        cause = str(error).splitlines()[0] if str(error) else type(error).__name__
        return on_disk(folder), f"{path} is damaged ({cause})"
    if not path.exists() and on_disk(folder):
        return on_disk(folder), f"{path} is missing"
    return listed, None


_FILE = re.compile(r"epoch-(?P<epoch>\d+)(?:-step-(?P<step>\d+))?\.weights\.h5")


def on_disk(folder: Path) -> list[Position]:
    """The checkpoints whose two files both have their final names, oldest first."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in names:
        match = _FILE.fullmatch(name)
        if match is None:
            continue
        position = Position(int(match["epoch"]), int(match["step"] or 0))
        if name.replace(".weights.h5", ".seeds.npz") in names:
            found.append(position)
    return sorted(found)


class EpochCheckpoint(keras.callbacks.Callback):
    """Save a resumable checkpoint at every epoch end and, given ``steps``, every
    ``steps`` training steps within an epoch; restore the newest good one.

    ``restore()`` (called before ``fit``) returns the ``Position`` to start from; pass
    it to ``Fitter.fit`` as ``initial_epoch`` and ``initial_step``. ``steps`` must be a
    multiple of the model's ``steps_per_execution`` (``Fitter.checkpoint_steps`` is):
    Keras reports steps only at the end of each compiled call.
    """

    def __init__(self, folder: Path, steps: int | None = None, report=None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.steps = steps or None
        self.report = report or (lambda message: None)
        self._epoch = 0
        self._resumed_metrics: tuple[int, list] | None = None  # (epoch, values)
        # Training seconds before this part: the restored checkpoint's (0 if it has none).
        self.elapsed_before = 0.0
        self._part_started = time.perf_counter()

    def on_train_begin(self, logs=None) -> None:
        self._part_started = time.perf_counter()

    def elapsed_seconds(self) -> float:
        """Seconds spent training so far, the parts before a resume included."""
        return self.elapsed_before + time.perf_counter() - self._part_started

    def _paths(self, position: Position) -> tuple[Path, Path]:
        name = f"epoch-{position.epoch}" + (f"-step-{position.step}" if position.step else "")
        return (self.folder / f"{name}.weights.h5", self.folder / f"{name}.seeds.npz")

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = int(epoch)
        if self._resumed_metrics is not None and self._resumed_metrics[0] == epoch:
            # fit has just reset the metrics; the resumed epoch continues their totals.
            for variable, value in zip(
                metric_variables(self.model), self._resumed_metrics[1], strict=True
            ):
                variable.assign(value)
            self._resumed_metrics = None

    def on_train_batch_end(self, batch, logs=None) -> None:
        # ``batch`` is the last step of the compiled call, counted from the epoch's start
        # (also in a resumed epoch); the epoch's end is on_epoch_end's.
        done = int(batch) + 1
        if self.steps and done % self.steps == 0 and done < self.params["steps"]:
            self.save(self._epoch, done)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.save(epoch + 1)

    def save(self, epochs_done: int, step: int = 0) -> None:
        """Write the checkpoint after ``epochs_done`` epochs and ``step`` steps, then prune.

        Listed checkpoints after this position are dropped: they are of a run that was
        resumed from an earlier one (its newest was unreadable).
        """
        position = Position(int(epochs_done), int(step))
        self.folder.mkdir(parents=True, exist_ok=True)
        weights, state = self._paths(position)
        staging = weights.with_name(f".{weights.name}")  # Keras wants the .weights.h5 ending
        self.model.save_weights(staging)
        os.replace(staging, weights)
        seeds = [keras.ops.convert_to_numpy(g.state) for g in seed_generators(self.model)]
        metrics = {}
        if position.step:  # at an epoch end fit resets them before they are used again
            values = [keras.ops.convert_to_numpy(v) for v in metric_variables(self.model)]
            metrics = {f"metric_{n}": value for n, value in enumerate(values)}
        elapsed = np.float64(self.elapsed_seconds())
        with atomic_file(state, "wb") as handle:
            np.savez(handle, *seeds, **metrics, elapsed_seconds=elapsed)
        listed, _ = checked_index(self.folder)  # a damaged index: the files are the list
        kept = sorted({p for p in listed if p < position} | {position})
        write_json_atomic(
            self.folder / INDEX,
            {
                "checkpoints": [p._asdict() for p in kept[-KEPT:]],
                "epochs": [p.epoch for p in kept[-KEPT:] if not p.step],
            },
        )
        for old in {*listed, *on_disk(self.folder)} - set(kept[-KEPT:]):
            for path in self._paths(old):
                path.unlink(missing_ok=True)

    def restore(self) -> Position:
        """Load the newest checkpoint that reads back; its position (``Position(0)``: none).

        With checkpoints there but none readable this raises ``WorkKeptError`` naming the
        newest: starting again from step 0 would silently throw them away.
        """
        positions, problem = checked_index(self.folder)
        if problem is not None:
            self.report(f"checkpoint index {problem}; looking for the checkpoint files themselves")
        failures = []
        for position in reversed(positions):
            weights, state = self._paths(position)
            try:
                self.model.load_weights(weights)
                with np.load(state) as stored:
                    seeds, metrics = _arrays(stored, "arr_"), _arrays(stored, "metric_")
                    # Checkpoints of earlier versions lack it: their parts are not counted.
                    elapsed = (
                        float(stored["elapsed_seconds"])
                        if "elapsed_seconds" in stored.files
                        else 0.0
                    )
                generators = seed_generators(self.model)
                if len(seeds) != len(generators):
                    raise ValueError(f"{len(seeds)} random states for {len(generators)}")
                variables = metric_variables(self.model)
                if position.step and len(metrics) != len(variables):
                    raise ValueError(f"{len(metrics)} metric totals for {len(variables)}")
                for generator, seed in zip(generators, seeds, strict=True):
                    generator.state.assign(seed)
                self._resumed_metrics = (position.epoch, metrics) if position.step else None
                self.elapsed_before = elapsed
                return position
            except Exception as error:  # any unreadable file: try the one before
                cause = str(error).splitlines()[0] if str(error) else type(error).__name__
                failures.append(f"{weights.name}: {cause}")
                self.report(
                    f"checkpoint after {position.describe()} is unreadable ({cause}); "
                    "trying the one before"
                )
        if failures or (problem is not None and not positions):  # a damaged index, no files
            found = (
                f"none of its checkpoints reads back (newest {failures[0]})"
                if failures
                else f"{problem} and no checkpoint file is left"
            )
            raise WorkKeptError(
                f"cannot resume from {self.folder}: {found}; it is kept as it is: pass "
                "--restart to discard it and train from the start"
            )
        return Position(0)


def _arrays(stored, prefix: str) -> list[np.ndarray]:
    """The arrays ``prefix``0, ``prefix``1, ... of an open .npz, in order."""
    count = sum(name.startswith(prefix) for name in stored.files)
    return [stored[f"{prefix}{n}"] for n in range(count)]
