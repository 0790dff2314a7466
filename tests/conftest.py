"""Shared fixtures: real MNIST (small slices of it) and an isolated environment.

Real data comes from ``MNIST_VAE_DATA`` when set (CI points it at a local copy),
otherwise from the package's own sources, exactly as a user would get it. Every
test then runs with its own empty Keras and TFDS cache folders, so nothing a
test does touches the user's caches.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mnist_vae.data import ENV_VAR, load_mnist, select_training_set
from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.data.sources.cache import write_npz_atomic

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST arrays (60,000 + 10,000), loaded once per session."""
    return load_mnist(os.environ.get(ENV_VAR) or None)


@pytest.fixture(scope="session")
def small_mnist_npz(mnist, tmp_path_factory) -> Path:
    """A real slice: 600 stratified training images and 200 test images, as a Keras .npz."""
    train = select_training_set(mnist.x_train, mnist.y_train, 600, seed=0)
    test = select_training_set(mnist.x_test, mnist.y_test, 200, seed=0)
    arrays = MnistArrays(
        mnist.x_train[train], mnist.y_train[train], mnist.x_test[test], mnist.y_test[test]
    )
    return write_npz_atomic(tmp_path_factory.mktemp("data") / "small.npz", arrays)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """Empty caches and no data override, unless a test sets them itself."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(home / "tensorflow_datasets"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("MNIST_VAE_DEBUG", raising=False)


@pytest.fixture
def tiny_images() -> np.ndarray:
    """Eight random float images in [0, 1], shape (8, 28, 28, 1)."""
    return np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
