"""MNIST through TensorFlow Datasets: its prepared copy, or its own download."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.data.sources.network import reachable
from mnist_vae.errors import DataError, first_line

# TFDS's MNIST builder downloads from this host (tensorflow_datasets
# image_classification/mnist.py, _MNIST_URL).
TFDS_MNIST_HOST = "storage.googleapis.com"


def prepared_on_disk() -> bool:
    """Whether TFDS's data folder may hold a prepared MNIST, checked without importing TF."""
    data_dir = Path(os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets")
    return any((data_dir.expanduser() / "mnist").glob("*/dataset_info.json"))


def load_tfds(probe_timeout: float = 3.0) -> MnistArrays:
    """Read TFDS's prepared MNIST, downloading it only if its host answers quickly.

    On a machine with neither, this returns within ``probe_timeout`` seconds and
    without importing TensorFlow.
    """
    if not prepared_on_disk() and not reachable(TFDS_MNIST_HOST, 443, probe_timeout):
        raise DataError(
            f"TFDS has no prepared MNIST and {TFDS_MNIST_HOST} is unreachable "
            f"(gave up after {probe_timeout:g}s)"
        )
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    try:
        import absl.logging
        import tensorflow_datasets as tfds

        absl.logging.set_verbosity(absl.logging.ERROR)  # TFDS warns about empty cache folders
    except Exception as exc:  # an incomplete TFDS install is a source failure, not a crash
        raise DataError(f"tensorflow-datasets is unusable ({type(exc).__name__}: {exc})") from None
    arrays = {}
    try:
        builder = tfds.builder("mnist")
        if not builder.is_prepared():
            builder.download_and_prepare()
        for split in ("train", "test"):
            images, labels = tfds.as_numpy(
                builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
            )
            arrays[f"x_{split}"], arrays[f"y_{split}"] = np.asarray(images), np.asarray(labels)
    except Exception as exc:  # a failed download or a damaged TFDS folder: try the next source
        raise DataError(f"TFDS failed ({type(exc).__name__}: {first_line(exc)})") from None
    return MnistArrays.checked(f"TFDS ({builder.data_dir})", **arrays)
