"""mnist-vae's local copy of MNIST, and Keras's own cache file.

Keras's ``~/.keras/datasets/mnist.npz`` is *read* when present (it holds the
canonical arrays). It is never *written*: ``keras.datasets.mnist.load_data()``
checks that file's sha256 against Google's original bytes, and on a mismatch it
re-downloads and, offline, deletes the file. A rebuilt archive cannot match those
bytes (zip timestamps), so we keep our copy beside it in ``mnist-vae/mnist.npz``.
Both honour ``KERAS_HOME`` as Keras does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.io import atomic_file


def keras_datasets_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def keras_cache_file() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps its download."""
    return keras_datasets_dir() / "mnist.npz"


def cache_file() -> Path:
    """Where mnist-vae keeps the copy it fetched itself."""
    return keras_datasets_dir() / "mnist-vae" / "mnist.npz"


def write_npz_atomic(path: Path, arrays: MnistArrays) -> Path:
    """Write a Keras-layout .npz so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as handle:
        np.savez_compressed(handle, **arrays.as_dict())
        handle.flush()
        os.fsync(handle.fileno())
    return path
