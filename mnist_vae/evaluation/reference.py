"""The reference classifier that judges samples (MNIST's stand-in for Inception).

Registered as classifier ``reference``; trained once on the full training set with
small random shifts and cached with its test accuracy beside the data cache, keyed
by the training data's hash, so every evaluation on a machine uses the same judge.
Its JSON records the data it was trained on (``trained_on``): a judge of other data
is refused, because its Fréchet distances say nothing about this data's images.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.cache import keras_datasets_dir
from mnist_vae.data.sources.integrity import array_sha256
from mnist_vae.errors import RunError, UsageError, first_line
from mnist_vae.io import staged_file, write_json_atomic

REFERENCE_EPOCHS = 10
MIN_TEST_ACCURACY = 0.993


@dataclass
class ReferenceClassifier:
    network: object
    test_accuracy: float  # as recorded when it was trained
    path: Path
    trained_on: dict | None = None  # the provenance of its training data, if recorded

    def describe(self) -> dict:
        """What an evaluation records about its judge."""
        return {
            "file": self.path.name,
            "sha256": _file_sha256(self.path),
            "trained_on": self.trained_on,
            "recorded_test_accuracy": self.test_accuracy,
        }

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
        info = json.loads(info_path.read_text())
        accuracy = float(info["test_accuracy"])
    except Exception as exc:
        raise RunError(f"{path}: unreadable reference classifier ({first_line(exc)})") from None
    return ReferenceClassifier(network, accuracy, path, info.get("trained_on"))


def check_judge_fits(judge: ReferenceClassifier, data, report=print) -> None:
    """Refuse a judge trained on other data than ``data``; flag one that does not say."""
    from mnist_vae.data import data_label

    trained_on = judge.trained_on
    if trained_on is None:
        report(f"warning: the reference classifier {judge.path} does not record the data it was "
               "trained on; its numbers mean something only if that was this data")  # fmt: skip
        return
    if trained_on.get("train_sha256") != data.provenance["train_sha256"]:
        raise UsageError(
            f"the reference classifier {judge.path} was trained on {data_label(trained_on)}, not "
            f"on {data_label(data.provenance)}: its Frechet distances would mean nothing here; "
            "leave out --reference-classifier to use this data's own judge"
        )


def _file_sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def reference_classifier(
    data, *, path: str | Path | None = None, epochs: int = REFERENCE_EPOCHS, report=print
) -> ReferenceClassifier:
    """Load the cached reference classifier for ``data``, training it first if needed."""
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    target = Path(path) if path is not None else reference_path(data.x_train)
    if target.is_file():
        judge = load_reference(target)
        check_judge_fits(judge, data, report)
        return judge
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
    recorded = ("source", "canonical_mnist", "train_sha256")
    trained_on = {key: data.provenance[key] for key in recorded}
    write_json_atomic(
        target.with_suffix(".json"),
        {"test_accuracy": test_accuracy, "epochs": epochs, "trained_on": trained_on},
    )
    with staged_file(target) as staging:
        network.save(staging)
    return ReferenceClassifier(network, test_accuracy, target, trained_on)
