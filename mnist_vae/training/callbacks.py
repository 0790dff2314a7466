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


class ResumedTraining(keras.callbacks.CallbackList):
    """The callbacks of a run resumed mid-epoch, for the two ``fit`` calls it takes.

    ``Fitter.fit`` trains the rest of the resumed epoch in one ``fit`` and the epochs
    after it in another; through this list the callbacks see one training, as in an
    uninterrupted run: one ``on_train_begin`` (the first fit's) and one
    ``on_train_end`` (``end_training``, after the last), one ``History``, and step
    numbers counted from each epoch's first batch, so the resumed epoch's first call
    reports its steps from ``first_step`` on (a checkpoint, the progress bar).
    """

    def __init__(self, callbacks, first_step: int, **kwargs) -> None:
        super().__init__(callbacks, add_history=True, **kwargs)
        self.offset = int(first_step)
        self._begun = False
        self._end_logs = None

    def on_train_begin(self, logs=None) -> None:
        if not self._begun:
            self._begun = True
            super().on_train_begin(logs)

    def on_train_end(self, logs=None) -> None:
        self._end_logs = logs  # each fit call ends here; the training ends in end_training

    def end_training(self) -> None:
        super().on_train_end(self._end_logs)

    def on_epoch_end(self, epoch, logs=None) -> None:
        super().on_epoch_end(epoch, logs)
        self.offset = 0  # only the resumed epoch starts late

    def on_train_batch_begin(self, batch, logs=None) -> None:
        super().on_train_batch_begin(batch + self.offset, logs)

    def on_train_batch_end(self, batch, logs=None) -> None:
        super().on_train_batch_end(batch + self.offset, logs)
