"""Training's progress: a task over all its steps, and one line per epoch with its metrics.

Shown the process's way (``mnist_vae.progress``): a live bar, plain lines, or nothing.
"""

from __future__ import annotations

import time

import keras

from mnist_vae import progress


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


class TrainingProgress(keras.callbacks.Callback):
    """A training task over all epochs' steps; metrics are read only at epoch ends (no
    per-step sync). Use it as a context manager around ``fit``: the task ends with it,
    also when training stops with an error.

    ``completed``: the steps trained before (a resumed run), so the time left is
    estimated from this process's pace. ``epoch_lines`` False: the bar only (a
    benchmark's trainings).
    """

    def __init__(
        self,
        epochs: int,
        steps_per_epoch: int,
        *,
        completed: int = 0,
        epoch_lines: bool = True,
        description: str = "training",
    ) -> None:
        super().__init__()
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.epoch_lines = epoch_lines
        self._task = progress.task(
            description, total=epochs * steps_per_epoch, unit="steps", completed=completed
        )
        self._description = description
        self._bar: progress.Task | None = None
        self._epoch_start = 0.0
        self._epoch = 0

    def __enter__(self) -> TrainingProgress:
        self._bar = self._task.__enter__()
        return self

    def __exit__(self, *exc) -> bool | None:
        return self._task.__exit__(*exc)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter()
        if self._bar is not None:
            self._bar.update(description=f"{self._description}, epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None) -> None:
        # With steps_per_execution > 1 Keras reports only every few steps; ``batch``
        # is the index of the last step run, so set the position rather than count calls.
        if self._bar is not None:
            self._bar.update(completed=self._epoch * self.steps_per_epoch + batch + 1)

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self.epoch_lines:
            seconds = time.perf_counter() - self._epoch_start
            progress.note(
                f"epoch {epoch + 1:>3}/{self.epochs}  {format_metrics(logs or {})}  "
                f"({seconds:.1f} s)"
            )
