"""The reference classifier that judges samples (MNIST's stand-in for Inception).

Registered as classifier ``reference``; trained once on the full training set with
small random shifts and cached with its test accuracy beside the data cache, keyed
by the training data's hash, so every evaluation on a machine uses the same judge.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.cache import keras_datasets_dir
from mnist_vae.data.sources.integrity import array_sha256
from mnist_vae.errors import RunError, first_line
from mnist_vae.io import staged_file, write_json_atomic

REFERENCE_EPOCHS = 10
MIN_TEST_ACCURACY = 0.993


@dataclass
class ReferenceClassifier:
    network: object
    test_accuracy: float
    path: Path

    def features_and_probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate-layer features (the dense 256 layer) and class probabilities, one pass."""
        from mnist_vae.evaluation.classifier_training import predict_outputs, softmax

        outputs = predict_outputs(self.network, images)
        return outputs[-2], softmax(outputs[-1])

    def features(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probabilities(images)[0]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probabilities(images)[1]


def reference_path(x_train: np.ndarray) -> Path:
    """Cache file for the reference classifier of this training set."""
    folder = Path(os.environ.get("MNIST_VAE_CACHE") or keras_datasets_dir() / "mnist-vae")
    return folder / f"reference-classifier-{array_sha256(x_train)[:12]}.keras"


def load_reference(path: str | Path) -> ReferenceClassifier:
    """A saved reference classifier (its JSON beside it holds the test accuracy)."""
    import keras

    path = Path(path).expanduser()
    info_path = path.with_suffix(".json")
    if not path.is_file() or not info_path.is_file():
        raise RunError(f"{path}: no reference classifier there (need the .keras and its .json)")
    try:
        network = keras.saving.load_model(path, compile=False)
        accuracy = float(json.loads(info_path.read_text())["test_accuracy"])
    except Exception as exc:
        raise RunError(f"{path}: unreadable reference classifier ({first_line(exc)})") from None
    return ReferenceClassifier(network, accuracy, path)


def reference_classifier(
    data, *, path: str | Path | None = None, epochs: int = REFERENCE_EPOCHS, report=print
) -> ReferenceClassifier:
    """Load the cached reference classifier for ``data``, training it first if needed."""
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    target = Path(path) if path is not None else reference_path(data.x_train)
    if target.is_file():
        return load_reference(target)
    from mnist_vae.evaluation.classifier_training import accuracy, train_classifier
    from mnist_vae.registry import classifiers

    report(
        f"training the reference classifier on {len(data.x_train)} images "
        f"({epochs} epochs, once; it is cached) ..."
    )
    network = classifiers.get("reference")()
    train_classifier(network, data.x_train, data.y_train, epochs=epochs, augment=True, seed=0)
    test_accuracy = accuracy(network, data.x_test, data.y_test)
    report(f"reference classifier: {100 * test_accuracy:.2f}% test accuracy, cached at {target}")
    if test_accuracy < MIN_TEST_ACCURACY:
        report(
            f"warning: below the {100 * MIN_TEST_ACCURACY:.1f}% it reaches on MNIST; "
            "Frechet distances and confidences from it are less trustworthy"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # The JSON first: the .keras file appearing (by rename) marks the cache complete.
    write_json_atomic(
        target.with_suffix(".json"), {"test_accuracy": test_accuracy, "epochs": epochs}
    )
    with staged_file(target) as staging:
        network.save(staging)
    return ReferenceClassifier(network, test_accuracy, target)
