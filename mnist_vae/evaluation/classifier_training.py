"""Train and apply classifiers (registered builders: [hidden..., logits] outputs).

Used for the reference classifier that judges samples and by the benchmarks, which
train and apply many classifiers of one architecture in a row. Each architecture gets
one workbench per process: a copy of the network whose training (a compiled Keras
model) and prediction (a ``tf.function`` with a fixed input signature) are traced
once, and into which each classifier's variables are copied. A Keras trainer made per
classifier traced new functions every time, and TensorFlow warned of retracing after
a few of them.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import numpy as np

from mnist_vae import progress
from mnist_vae.data import to_float_images

PREDICT_BATCH = 2000
KEPT_WORKBENCHES = 4  # architectures kept ready at once, the least recently used dropped


def train_classifier(
    network,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 10,
    min_steps: int = 0,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    augment: bool = False,
    description: str = "training a classifier",
):
    """Fit ``network``'s logits to ``labels`` with Adam; returns the network.

    ``images`` are uint8 (N, 28, 28) or float (N, 28, 28[, 1]) in [0, 1]. With
    ``min_steps`` small sets train for more epochs, so every size gets a fair number
    of updates. ``augment`` adds random shifts of up to 2 pixels. Progress shows as
    ``description`` (``mnist_vae.progress``). The network ends as if trained in place:
    the same weights, whichever classifiers were trained before.
    """
    import keras
    import tensorflow as tf

    bench = _workbench(network)  # before seeding: making one must not move the seeds
    keras.utils.set_random_seed(seed)
    x = to_float_images(images)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    epochs = max(epochs, math.ceil(min_steps / steps_per_epoch))
    fresh = _trainer(network, augment, seed)  # the variables training starts from
    if bench is None:  # not clonable: a trainer of its own, traced for it alone
        trainer = fresh
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=_loss())
    else:
        trainer = bench.trainer(augment, fresh, learning_rate)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, labels.astype("int32")))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    with progress.task(description, total=epochs * steps_per_epoch, unit="steps") as advance:
        shown = _step_progress(advance, description, epochs, steps_per_epoch)
        # The dataset shuffles.
        trainer.fit(dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=[shown])
    if bench is not None:
        _copy(bench.network.variables, network.variables)
    return network


def predict_outputs(
    network, images: np.ndarray, batch_size: int = PREDICT_BATCH, advance=None
) -> list[np.ndarray]:
    """All outputs ([hidden..., logits]) for uint8 or float images, batched.

    ``advance(n)`` (a progress task) is called with each batch's size.
    """
    x = to_float_images(images)
    bench = _workbench(network)
    if bench is None:

        def run(batch):
            return network(batch, training=False)
    else:
        _copy(network.variables, bench.network.variables)
        run = bench.predict
    batches = []
    for start in range(0, max(len(x), 1), batch_size):
        batch = x[start : start + batch_size]
        batches.append([np.asarray(output) for output in run(batch)])
        if advance is not None:
            advance(len(batch))
    return [np.concatenate(parts) for parts in zip(*batches, strict=True)]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, computed stably."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def accuracy(network, images: np.ndarray, labels: np.ndarray) -> float:
    logits = predict_outputs(network, images)[-1]
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def _loss():
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _trainer(network, augment: bool, seed: int):
    """``network``'s logits behind the optional random shifts: the model that is fitted."""
    import keras

    inputs = keras.Input(tuple(network.inputs[0].shape[1:]))
    seen = inputs
    if augment:
        seen = keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", seed=seed)(
            inputs
        )
    return keras.Model(inputs, network(seen)[-1])


def _copy(sources, targets) -> None:
    for target, source in zip(targets, sources, strict=True):
        target.assign(source)


def _step_progress(advance, description: str, epochs: int, steps_per_epoch: int):
    """A Keras callback advancing the task ``advance`` by the steps trained."""
    import keras

    class StepProgress(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self.epoch = epoch
            advance.update(description=f"{description}, epoch {epoch + 1}/{epochs}")

        def on_train_batch_end(self, batch, logs=None) -> None:
            advance.update(completed=self.epoch * steps_per_epoch + batch + 1)

    return StepProgress()


class _Workbench:
    """One architecture's copy of a network, its prediction traced once and its training
    compiled once (with and without shifts)."""

    def __init__(self, network) -> None:
        import random

        import keras
        import tensorflow as tf

        state = random.getstate(), np.random.get_state()
        try:  # a clone draws its initial weights; the caller's random state stays as it was
            self.network = keras.models.clone_model(network)
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
        shape = tuple(network.inputs[0].shape[1:])
        self.predict = tf.function(
            lambda batch: self.network(batch, training=False),
            input_signature=[tf.TensorSpec((None, *shape), tf.float32)],
        )
        self._trainers: dict[bool, tuple] = {}

    def trainer(self, augment: bool, fresh, learning_rate: float):
        """The compiled trainer, its variables set to ``fresh``'s and its optimizer reset."""
        import keras

        if augment not in self._trainers:
            trainer = _trainer(self.network, augment, seed=0)
            trainer.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=_loss())
            trainer.optimizer.build(trainer.trainable_variables)
            initial = [variable.numpy() for variable in trainer.optimizer.variables]
            self._trainers[augment] = (trainer, initial)
        trainer, initial = self._trainers[augment]
        _copy(fresh.variables, trainer.variables)
        _copy(initial, trainer.optimizer.variables)
        trainer.optimizer.learning_rate = learning_rate
        return trainer


_workbenches: OrderedDict[str, _Workbench] = OrderedDict()


def _workbench(network) -> _Workbench | None:
    """The workbench of ``network``'s architecture; None for a network Keras cannot clone."""
    key = _architecture(network)
    if key is None:
        return None
    if key not in _workbenches:
        try:
            bench = _Workbench(network)
        except Exception:  # e.g. a subclassed network without from_config
            return None
        if [v.shape for v in bench.network.variables] != [v.shape for v in network.variables]:
            return None
        _workbenches[key] = bench
        while len(_workbenches) > KEPT_WORKBENCHES:
            _workbenches.popitem(last=False)
    _workbenches.move_to_end(key)
    return _workbenches[key]


def _architecture(network) -> str | None:
    """A key equal for networks built alike: the config with layer names (numbered by
    Keras as they are made) replaced by their positions, and the variables' shapes."""
    try:
        config = network.get_config()
        layers = list(network.layers)
    except Exception:
        return None
    names = {layer.name: f"layer{index}" for index, layer in enumerate(layers)}
    names[network.name] = "network"

    def canonical(value):
        if isinstance(value, dict):
            return {key: canonical(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [canonical(item) for item in value]
        return names.get(value, value) if isinstance(value, str) else value

    shapes = [(tuple(v.shape), str(v.dtype)) for v in network.variables]
    kind = f"{type(network).__module__}.{type(network).__qualname__}"
    return json.dumps([kind, canonical(config), shapes], sort_keys=True, default=str)
