"""Keras callbacks that training adds to every fit."""

from __future__ import annotations

import math

import keras

# Nats per image beyond which a finite loss counts as a divergence (MNIST's worst
# images cost a few hundred nats; a blow-up reaches 1e10 and more).
SANE_LOSS = 1e8


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the end of an epoch whose loss is NaN, infinite or beyond ``SANE_LOSS``.

    Unlike ``keras.callbacks.TerminateOnNaN`` it looks only at epoch ends, so it
    never forces a device sync per step, and it prints nothing: the caller reports.
    """

    def on_epoch_end(self, epoch, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not (math.isfinite(float(loss)) and abs(loss) <= SANE_LOSS):
            self.model.stop_training = True


class EpochClockSync(keras.callbacks.Callback):
    """Set the training pipeline's ``EpochClock`` to the epoch Keras is starting.

    The data order and dynamic binary draws of epoch e then depend on e alone, also
    when ``fit`` starts at a later epoch (a resumed run).
    """

    def __init__(self, clock) -> None:
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.clock.epoch = int(epoch)
