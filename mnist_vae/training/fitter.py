"""The training loop: compiled model, input pipelines and the ``fit`` call.

Kept apart from the orchestration so that benchmarks time exactly what
``mnist-vae train`` runs.
"""

from __future__ import annotations

import math

from mnist_vae.config import RunConfig
from mnist_vae.data import EpochClock, make_dataset, select_training_set

# Training steps per call into the compiled graph: fewer Python round trips per epoch.
STEPS_PER_EXECUTION = 50
# Test images scored after every epoch (the loss curves); the final metrics use all.
VALIDATION_IMAGES = 2_000


class Fitter:
    """Compile ``model`` for ``config`` and fit it on the given arrays.

    The networks compute in the resolved precision during ``fit`` only (see
    ``mnist_vae.training.precision``); between calls the model is float32 again.
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
    ) -> None:
        from mnist_vae.models import build_optimizer
        from mnist_vae.training.precision import resolve_precision

        self.model = model
        self.config = config
        self.precision = resolve_precision(config.train.precision)
        batch_size = config.train.batch_size
        self.steps_per_epoch = math.ceil(len(x_train) / batch_size)
        if steps_per_execution is None:
            import tensorflow as tf

            # Keras's multi-step loop fails under tf.distribute (a placeholder is never
            # fed), so distributed training runs one step per call.
            distributed = tf.distribute.has_strategy()
            steps_per_execution = (
                1 if distributed else min(self.steps_per_epoch, STEPS_PER_EXECUTION)
            )
        model.compile(
            optimizer=build_optimizer(config.train, self.steps_per_epoch),
            steps_per_execution=steps_per_execution,
        )
        seed = config.train.seed
        dynamic = config.train.binarize == "dynamic"
        self.clock = EpochClock()
        self.train_ds = make_dataset(x_train, y_train, batch_size, shuffle=True, seed=seed,
                                     resample_binary=dynamic, clock=self.clock)  # fmt: skip
        # Per-epoch monitoring on a fixed stratified fifth of the test set; the run's
        # test metrics are computed on all of it after training.
        watched = select_training_set(x_test, y_test, min(len(x_test), VALIDATION_IMAGES), 0)
        self.test_ds = make_dataset(x_test[watched], y_test[watched], 1000)

    def fit(self, epochs: int, callbacks: list | None = None, initial_epoch: int = 0) -> dict:
        """Train up to epoch ``epochs`` (from ``initial_epoch``), validating on the test set.

        Returns the history of the epochs trained in this call.
        """
        from mnist_vae.training.callbacks import EpochClockSync, StopOnNonFinite
        from mnist_vae.training.precision import set_network_precision

        set_network_precision(self.model, self.precision)
        try:
            return self.model.fit(
                self.train_ds,
                epochs=epochs,
                initial_epoch=initial_epoch,
                validation_data=self.test_ds,
                callbacks=[EpochClockSync(self.clock), *(callbacks or []), StopOnNonFinite(),
                           *self.model.training_callbacks()],
                shuffle=False,
                verbose=0,  # the pipeline reshuffles every epoch itself
            ).history
        finally:
            set_network_precision(self.model, "float32")
            # Evaluation after training must not reuse the functions traced for fit.
            self.model.test_function = self.model.predict_function = None
