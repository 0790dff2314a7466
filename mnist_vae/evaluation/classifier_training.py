"""Train and apply classifiers (registered builders: [hidden..., logits] outputs).

Used for the reference classifier that judges samples and by the benchmarks.
"""

from __future__ import annotations

import math

import numpy as np

from mnist_vae.data import to_float_images


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
):
    """Fit ``network``'s logits to ``labels`` with Adam; returns the network.

    ``images`` are uint8 (N, 28, 28) or float (N, 28, 28[, 1]) in [0, 1]. With
    ``min_steps`` small sets train for more epochs, so every size gets a fair number
    of updates. ``augment`` adds random shifts of up to 2 pixels.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    x = to_float_images(images)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    epochs = max(epochs, math.ceil(min_steps / steps_per_epoch))
    inputs = keras.Input((28, 28, 1))
    seen = inputs
    if augment:
        seen = keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", seed=seed)(
            inputs
        )
    trainer = keras.Model(inputs, network(seen)[-1])
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, labels.astype("int32")))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    trainer.fit(dataset, epochs=epochs, shuffle=False, verbose=0)  # the dataset shuffles
    return network


def predict_outputs(network, images: np.ndarray, batch_size: int = 2000) -> list[np.ndarray]:
    """All outputs ([hidden..., logits]) for uint8 or float images, batched."""
    x = to_float_images(images)
    outputs = network.predict(x, batch_size=batch_size, verbose=0)
    return [np.asarray(o) for o in outputs]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, computed stably."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def accuracy(network, images: np.ndarray, labels: np.ndarray) -> float:
    logits = predict_outputs(network, images)[-1]
    return float(np.mean(np.argmax(logits, axis=-1) == labels))
