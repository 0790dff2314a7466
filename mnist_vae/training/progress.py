"""A rich progress bar for ``model.fit``, plus one summary line per epoch."""

from __future__ import annotations

import time

import keras
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def format_metrics(logs: dict) -> str:
    """'loss 160.2 (reconstruction 155.1, kl 5.1)  test 161.0 (...)' from Keras logs."""
    parts = []
    for prefix, label in (("", ""), ("val_", "test ")):
        values = {
            key[len(prefix) :]: float(value)
            for key, value in logs.items()
            if key.startswith(prefix) and (prefix or not key.startswith("val_"))
        }
        if not values:
            continue
        loss = values.pop("loss", None)
        ordered = sorted(values.items(), key=lambda item: (item[0] != "reconstruction", item[0]))
        details = ", ".join(f"{name} {value:.2f}" for name, value in ordered)
        head = f"{label}loss {loss:.2f}" if loss is not None else label.strip()
        parts.append(f"{head} ({details})" if details else head)
    return "  ".join(parts)


class RichProgress(keras.callbacks.Callback):
    """Steps bar across all epochs; metrics are read only at epoch ends (no per-step sync)."""

    def __init__(self, epochs: int, steps_per_epoch: int, console: Console | None = None) -> None:
        super().__init__()
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None
        self._epoch_start = 0.0
        self._epoch = 0

    def on_train_begin(self, logs=None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("training", total=self.epochs * self.steps_per_epoch)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter()
        self._progress.update(self._task, description=f"epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None) -> None:
        # With steps_per_execution > 1 Keras reports only every few steps; ``batch``
        # is the index of the last step run, so set the position rather than count calls.
        done = self._epoch * self.steps_per_epoch + batch + 1
        self._progress.update(self._task, completed=done)

    def on_epoch_end(self, epoch, logs=None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        self._progress.console.print(
            f"epoch {epoch + 1:>3}/{self.epochs}  {format_metrics(logs or {})}  ({seconds:.1f} s)",
            highlight=False,
            soft_wrap=True,
        )

    def on_train_end(self, logs=None) -> None:
        if self._progress is not None:
            self._progress.stop()
