"""Keras callbacks used by training."""

from __future__ import annotations

import math

import keras


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the end of an epoch whose loss is NaN or infinite.

    Unlike ``keras.callbacks.TerminateOnNaN`` it looks only at epoch ends, so it
    never forces a device sync per step, and it prints nothing: the caller reports.
    """

    def on_epoch_end(self, epoch, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True


class PixelWarmup(keras.callbacks.Callback):
    """Sets a model's ``pixel_phase`` to 1 for the first ``epochs`` epochs, then 0."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.model.pixel_phase.assign(1.0 if epoch < self.epochs else 0.0)
