"""Keras callbacks that training adds to every fit."""

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
