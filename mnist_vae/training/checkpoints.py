"""Epoch checkpoints that a killed run resumes from, bit for bit.

Keras's ``BackupAndRestore`` is the model for this one, but it writes its weights
and its epoch counter in place, one after the other: a kill between the two leaves
weights of epoch e+1 labelled e, and the resumed run repeats an epoch on top of
them. It also leaves out the random generators' states, so a resumed run draws
other noise than an uninterrupted one. Here each checkpoint is

* ``epoch-E.weights.h5``: ``model.save_weights`` (every network, every optimizer
  variable and the optimizer's step counter), written beside and renamed into place;
* ``epoch-E.seeds.npz``: the state of every ``keras.random.SeedGenerator`` in the
  model's layers (the reparameterisation noise, dropout), in layer order;
* ``checkpoint.json``: the epochs whose files are complete, newest last, renamed
  into place only after both files are; it is the one source of truth.

The last two checkpoints are kept: a corrupt newest one (a full disk, a bad sector)
is reported in one line and the run resumes from the one before. The data order
needs no state of its own: it is a function of (seed, epoch) (``EpochClock``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from mnist_vae.io import atomic_file, write_json_atomic

INDEX = "checkpoint.json"
KEPT = 2


def seed_generators(model) -> list:
    """Every SeedGenerator owned by the model or one of its layers, in a stable order."""
    found, seen = [], set()
    for layer in [model, *model._flatten_layers(include_self=False)]:
        for generator in getattr(layer, "_seed_generators", []):
            if id(generator) not in seen:
                seen.add(id(generator))
                found.append(generator)
    return found


def read_index(folder: Path) -> dict:
    """The checkpoint index ({"epochs": [...], ...}), or an empty one."""
    path = Path(folder) / INDEX
    if not path.exists():
        return {"epochs": []}
    return json.loads(path.read_text())


class EpochCheckpoint(keras.callbacks.Callback):
    """Save a resumable checkpoint every ``every`` epochs; restore the newest good one.

    ``restore()`` (called before ``fit``) returns the epoch to start from; pass it to
    ``fit`` as ``initial_epoch``.
    """

    def __init__(self, folder: Path, every: int = 1, report=None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.every = max(1, int(every))
        self.report = report or (lambda message: None)

    def _paths(self, epoch: int) -> tuple[Path, Path]:
        return (self.folder / f"epoch-{epoch}.weights.h5", self.folder / f"epoch-{epoch}.seeds.npz")

    def on_epoch_end(self, epoch, logs=None) -> None:
        done = epoch + 1
        if done % self.every == 0:
            self.save(done)

    def save(self, epochs_done: int) -> None:
        """Write the checkpoint after ``epochs_done`` epochs, then prune old ones."""
        self.folder.mkdir(parents=True, exist_ok=True)
        weights, seeds = self._paths(epochs_done)
        staging = weights.with_name(f".{weights.name}")  # Keras wants the .weights.h5 ending
        self.model.save_weights(staging)
        os.replace(staging, weights)
        states = [keras.ops.convert_to_numpy(g.state) for g in seed_generators(self.model)]
        with atomic_file(seeds, "wb") as handle:
            np.savez(handle, *states)
        index = read_index(self.folder)
        epochs = [e for e in index["epochs"] if e != epochs_done] + [epochs_done]
        write_json_atomic(self.folder / INDEX, {"epochs": epochs[-KEPT:]})
        for old in epochs[:-KEPT]:
            for path in self._paths(old):
                path.unlink(missing_ok=True)

    def restore(self) -> int:
        """Load the newest checkpoint that reads back; the epochs it holds (0: none)."""
        index = read_index(self.folder)
        for epoch in reversed(index["epochs"]):
            weights, seeds = self._paths(epoch)
            try:
                self.model.load_weights(weights)
                with np.load(seeds) as stored:
                    states = [stored[f"arr_{n}"] for n in range(len(stored.files))]
                generators = seed_generators(self.model)
                if len(states) != len(generators):
                    raise ValueError(f"{len(states)} random states for {len(generators)}")
                for generator, state in zip(generators, states, strict=True):
                    generator.state.assign(state)
                return epoch
            except Exception as error:  # any unreadable file: try the one before
                cause = str(error).splitlines()[0] if str(error) else type(error).__name__
                self.report(f"checkpoint after epoch {epoch} is unreadable ({cause}); "
                            "trying the one before")  # fmt: skip
        return 0
