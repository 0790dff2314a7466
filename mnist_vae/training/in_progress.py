"""A run still in training, or interrupted, read as it stood after its newest whole epoch.

A training planned over hours or sessions is worth scoring before it ends: is the curve
still falling, is the goal already met? ``benchmark nll --run OUT`` reads such a run
through ``open_in_progress``: the model built as training builds it, the weights of the
stage's newest epoch-end checkpoint loaded into it. Nothing in the stage is written or
locked, so the training goes on undisturbed; the checkpoint's weights are copied first,
since training deletes all but its newest two checkpoints as it goes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.config import RunConfig
from mnist_vae.errors import RunError
from mnist_vae.io import training_stage_path

ATTEMPTS = 3  # a checkpoint pruned between listing and copying: the newer one is read


@dataclass(frozen=True)
class InProgressRun:
    """What a measurement reads of a run (``path``, ``config``, ``record``, ``metrics``,
    ``load_model``) for a run whose training has not finished. ``metrics`` holds the
    checkpoint's ``epochs`` and ``train_seconds``, and ``in_progress``."""

    path: Path
    config: RunConfig
    record: dict[str, Any]
    metrics: dict[str, Any]
    weights: Path = field(repr=False)

    def load_model(self):
        """The model after ``metrics["epochs"]`` epochs, compiled as training compiles it."""
        from mnist_vae.backend import prepare_backend
        from mnist_vae.registry import load_registrations

        prepare_backend()
        load_registrations()
        from mnist_vae.models import TrainingContext, build_model
        from mnist_vae.models.factory import build_optimizer

        # The training set's size only paces schedules (warm-ups, the learning rate),
        # which scoring does not run: the shapes of the variables do not depend on it.
        context = TrainingContext.for_training(self.config.train)
        model = build_model(self.config.model, seed=self.config.train.seed, context=context)
        model.compile(optimizer=build_optimizer(self.config.train, context.steps_per_epoch))
        model.load_weights(self.weights)  # the checkpoint holds the optimizer's state too
        return model


def in_progress(path: str | Path) -> bool:
    """Whether ``path`` is a run not finished yet: no run there, its training stage there."""
    path = Path(path).expanduser()
    return not path.exists() and training_stage_path(path).is_dir()


def open_in_progress(path: str | Path, scratch: Path | None = None) -> InProgressRun:
    """``path``'s unfinished run at its newest epoch-end checkpoint, its weights copied
    into ``scratch`` (a new temporary folder by default). One-line ``RunError`` when the
    stage holds no whole epoch yet or cannot be read."""
    from mnist_vae.training.checkpoints import checked_index
    from mnist_vae.training.trainer import CHECKPOINTS, INTENT

    path = Path(path).expanduser()
    stage = training_stage_path(path)
    try:
        intent = json.loads((stage / INTENT).read_text())
        config = RunConfig.from_dict(intent["config"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RunError(
            f"{path} is not finished, and its training stage {stage} holds no readable "
            f"{INTENT} ({type(error).__name__}); resume it with 'mnist-vae train --resume "
            f"{path}' or discard it with 'mnist-vae clean'"
        ) from None
    folder = stage / CHECKPOINTS
    scratch = Path(scratch or tempfile.mkdtemp(prefix="mnist-vae-in-progress-"))
    for _ in range(ATTEMPTS):
        ends = [position for position in checked_index(folder)[0] if position.step == 0]
        if not ends or ends[-1].epoch == 0:
            raise RunError(
                f"{path} is not finished and has no checkpoint after a whole epoch yet; "
                "score it after its first epoch"
            )
        epochs = ends[-1].epoch
        try:
            weights = shutil.copy(folder / f"epoch-{epochs}.weights.h5", scratch)
            with np.load(folder / f"epoch-{epochs}.seeds.npz") as stored:
                seconds = float(stored["elapsed_seconds"]) if "elapsed_seconds" in stored else None
        except FileNotFoundError:
            continue  # pruned by the training meanwhile: a newer one is listed now
        metrics = {"epochs": epochs, "train_seconds": seconds, "in_progress": True}
        return InProgressRun(path, config, dict(intent), metrics, Path(weights))
    raise RunError(f"{path}'s checkpoints changed {ATTEMPTS} times while read; try again")
