"""The training loop: compiled model, input pipelines and the ``fit`` call.

Kept apart from the orchestration so that benchmarks time exactly what
``mnist-vae train`` runs.
"""

from __future__ import annotations

import math

from mnist_vae.config import STEPS_PER_CALL, RunConfig
from mnist_vae.data import EpochClock, make_dataset, select_training_set

# Training steps per call into the compiled graph: fewer Python round trips per epoch.
STEPS_PER_EXECUTION = STEPS_PER_CALL
# Test images scored after every epoch (the loss curves); the final metrics use all.
VALIDATION_IMAGES = 2_000


def default_steps_per_execution(
    steps_per_epoch: int, epochs: int, checkpoint_steps: int | None, distributed: bool
) -> int:
    """Training steps per compiled call: up to an epoch, at most ``STEPS_PER_EXECUTION``.

    One step per call where the multi-step loop buys nothing: under tf.distribute, where
    Keras's loop fails (a placeholder is never fed), and in a training no longer than one
    call's worth of steps, where the loop's tracing (about 0.4 s) outweighs the Python
    round trips it saves. A shorter checkpoint interval means that many steps per call.
    """
    if distributed or steps_per_epoch * epochs <= STEPS_PER_EXECUTION:
        return 1
    steps = min(steps_per_epoch, STEPS_PER_EXECUTION)
    return min(steps, checkpoint_steps) if checkpoint_steps else steps


class Fitter:
    """Compile ``model`` for ``config`` and fit it on the given arrays.

    The networks compute in the resolved precision during ``fit`` only (see
    ``mnist_vae.training.precision``); between calls the model is float32 again.
    ``labelled`` (uint8 images and labels), for a semi-supervised model whose
    ``y_train`` hides most labels (-1): every training batch also gets the model's
    ``labelled_per_batch`` rows drawn from it (``make_dataset``).
    """

    def __init__(
        self,
        model,
        config: RunConfig,
        x_train,
        y_train,
        x_test,
        y_test,
        *,
        steps_per_execution: int | None = None,
        labelled: tuple | None = None,
    ) -> None:
        from mnist_vae.models import build_optimizer
        from mnist_vae.training.precision import resolve_precision

        self.model = model
        self.config = config
        self.precision = resolve_precision(config.train.precision)
        batch_size = config.train.batch_size
        self.steps_per_epoch = math.ceil(len(x_train) / batch_size)
        every = config.train.checkpoint_steps
        import tensorflow as tf

        distributed = tf.distribute.has_strategy()
        # The step decodes its own uint8 batch (mnist_vae.pixels), except under
        # tf.distribute, which splits every element of a batch, the draw's key too.
        self.raw_batches = not distributed
        if steps_per_execution is None:
            steps_per_execution = default_steps_per_execution(
                self.steps_per_epoch, config.train.epochs, every, distributed
            )
        # Steps between mid-epoch checkpoints (None: only at epoch ends). Keras hands
        # control back only between compiled calls, so a longer interval is rounded down
        # to whole calls: a kill still loses at most ``checkpoint_steps`` steps.
        self.checkpoint_steps = (
            max(1, every // steps_per_execution) * steps_per_execution if every else None
        )
        model.compile(
            optimizer=build_optimizer(config.train, self.steps_per_epoch),
            steps_per_execution=steps_per_execution,
        )
        self.clock = EpochClock()
        self._train_arrays = (x_train, y_train)
        self.labelled = labelled
        self.train_ds = self.train_dataset()
        # Per-epoch monitoring on a fixed stratified fifth of the test set; the run's
        # test metrics are computed on all of it after training.
        watched = select_training_set(x_test, y_test, min(len(x_test), VALIDATION_IMAGES), 0)
        self.test_ds = make_dataset(x_test[watched], y_test[watched], 1000)

    def train_dataset(self, skip_batches: int = 0):
        """The training pipeline; with ``skip_batches``, each pass without its first batches."""
        train = self.config.train
        extra = {}
        if self.labelled is not None:
            extra = {"labelled": self.labelled, "labelled_per_batch": self.model.labelled_per_batch}
        return make_dataset(
            *self._train_arrays,
            train.batch_size,
            shuffle=True,
            seed=train.seed,
            resample_binary=train.binarize == "dynamic",
            clock=self.clock,
            skip_batches=skip_batches,
            raw=self.raw_batches,
            **extra,
        )

    def fit(
        self,
        epochs: int,
        callbacks: list | None = None,
        initial_epoch: int = 0,
        initial_step: int = 0,
    ) -> dict:
        """Train up to epoch ``epochs`` (from ``initial_epoch``), validating on the test set.

        With ``initial_step`` (a mid-epoch checkpoint's position) the first epoch starts
        that many steps in: Keras's ``fit`` cannot, so it is fitted on its own, on a pass
        that skips the batches already trained (the order is a function of seed and
        epoch), and the later epochs in a second ``fit``. The callbacks see one training
        (``ResumedTraining``). Returns the history of the epochs trained in this call.
        """
        from mnist_vae.training.callbacks import EpochClockSync, ResumedTraining, StopOnNonFinite
        from mnist_vae.training.precision import set_network_precision

        callbacks = [
            EpochClockSync(self.clock),
            *(callbacks or []),
            StopOnNonFinite(),
            *self.model.training_callbacks(),
        ]
        set_network_precision(self.model, self.precision)
        try:
            if not initial_step:
                return self._fit(self.train_ds, epochs, callbacks, initial_epoch).history
            together = ResumedTraining(
                callbacks,
                initial_step,
                model=self.model,
                verbose=0,
                epochs=epochs,
                steps=self.steps_per_epoch,
            )
            rest = self.train_dataset(skip_batches=initial_step)
            history = self._fit(rest, initial_epoch + 1, together, initial_epoch)
            if not self.model.stop_training and initial_epoch + 1 < epochs:
                history = self._fit(self.train_ds, epochs, together, initial_epoch + 1)
            together.end_training()
            return history.history  # one History through both calls
        finally:
            set_network_precision(self.model, "float32")
            if self.precision != "float32":
                # Evaluation after training must not reuse functions traced in another
                # precision; in float32 it reuses them (one tracing less per model).
                self.model.test_function = self.model.predict_function = None

    def _fit(self, dataset, epochs: int, callbacks, initial_epoch: int):
        return self.model.fit(
            dataset,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=self.test_ds,
            callbacks=callbacks,
            shuffle=False,
            verbose=0,  # the pipeline reshuffles every epoch itself
        )
