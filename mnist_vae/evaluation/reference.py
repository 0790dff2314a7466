"""The reference classifier that judges samples (MNIST's stand-in for Inception).

Registered as classifier ``reference``. For canonical MNIST its weights ship with the
package (``pinned/``, checked by their hash), so a Fréchet distance on MNIST is the
same number on every machine, as pytorch-fid ships Inception's weights. For other
data it is trained once on the full training set with small random shifts and cached
with its test accuracy beside the data cache, keyed by the training data's hash, so
every evaluation on a machine uses the same judge. Its JSON records the data it was
trained on (``trained_on``): a judge of other data is refused, because its Fréchet
distances say nothing about this data's images.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.cache import keras_datasets_dir
from mnist_vae.data.sources.integrity import MULTISET_SHA256, array_sha256
from mnist_vae.errors import RunError, UsageError, first_line
from mnist_vae.io import staged_file, write_json_atomic

REFERENCE_EPOCHS = 10
MIN_TEST_ACCURACY = 0.993
# The MNIST judge shipped with the package: trained by ``reference_classifier`` below
# (10 epochs, seed 0) on the 60,000 canonical training images; its file's hash, and its
# accuracy on the 10,000 test images.
PINNED = Path(__file__).parent / "pinned" / "reference-mnist.weights.h5"
PINNED_SHA256 = "852009f6cf97552a8b6e5939554ebef617788fb4999aef644d7690c236bbe4dc"
PINNED_TEST_ACCURACY = 0.9936


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

    def features_and_probabilities(
        self, images: np.ndarray, advance=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Penultimate-layer features (the dense 256 layer) and class probabilities, one pass.

        ``advance(n)`` (a progress task) is called with the images of each batch judged.
        """
        from mnist_vae.evaluation.classifier_training import predict_outputs, softmax

        outputs = predict_outputs(self.network, images, advance=advance)
        return outputs[-2], softmax(outputs[-1])

    def features(self, images: np.ndarray, advance=None) -> np.ndarray:
        return self.features_and_probabilities(images, advance)[0]

    def probabilities(self, images: np.ndarray, advance=None) -> np.ndarray:
        return self.features_and_probabilities(images, advance)[1]


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
        report(
            f"warning: the reference classifier {judge.path} does not record the data it was "
            "trained on; its numbers mean something only if that was this data"
        )
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


def pinned_reference() -> ReferenceClassifier:
    """The MNIST judge shipped with the package, after checking its file's hash."""
    from mnist_vae.backend import prepare_backend
    from mnist_vae.registry import classifiers

    prepare_backend()
    if not PINNED.is_file() or _file_sha256(PINNED) != PINNED_SHA256:
        raise RunError(
            f"{PINNED} is missing or damaged (its sha256 is not the one this "
            "mnist-vae shipped); reinstall mnist-vae"
        )
    network = classifiers.get("reference")()
    network.load_weights(PINNED)
    trained_on = {
        "source": "canonical MNIST, the 60,000 training images",
        "canonical_mnist": True,
        "train_sha256": MULTISET_SHA256["train"],
    }
    return ReferenceClassifier(network, PINNED_TEST_ACCURACY, PINNED, trained_on)


def reference_classifier(
    data, *, path: str | Path | None = None, epochs: int = REFERENCE_EPOCHS, report=print
) -> ReferenceClassifier:
    """The judge for ``data``: the pinned one for MNIST, else the cached one for
    ``data`` (trained first if needed), or the one at ``path``."""
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    if path is None and data.provenance["train_sha256"] == MULTISET_SHA256["train"]:
        return pinned_reference()
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
    train_classifier(
        network,
        data.x_train,
        data.y_train,
        epochs=epochs,
        augment=True,
        seed=0,
        description="training the reference classifier",
    )
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
