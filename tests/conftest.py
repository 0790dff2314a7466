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

# One thread per op and one op at a time in every test process (the workers and the
# processes they start inherit it), set before TensorFlow starts. make test runs one
# worker per core, so more threads would only contend; and a resumed run matches the
# uninterrupted one bit for bit only when both split their reductions the same way,
# which ops spread over a busy machine's threads do not always do. mnist-vae's own
# layout defaults are tested in test_fast_paths.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
# TensorFlow's graph optimizer rewrites every new graph before its first run: a third of
# a tiny training's time, and the point of no test here. Off in every test process and
# the processes they start (mnist_vae.backend.GRAPH_OPTIMIZER), so runs they compare
# bit for bit agree; users and the benchmarks keep it.
os.environ.setdefault("MNIST_VAE_GRAPH_OPTIMIZER", "0")

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


@pytest.fixture(scope="session")
def small(small_mnist_npz):
    """The small slice loaded as ``MnistData``, as ``--data small.npz`` would load it."""
    return load_mnist(small_mnist_npz)


@pytest.fixture(scope="session")
def quick_reference(small, tmp_path_factory):
    """A reference classifier of the small slice trained for one epoch: the judge's
    plumbing, not its quality. Read-only: tests that need their own train their own."""
    from mnist_vae.evaluation.reference import reference_classifier

    path = tmp_path_factory.mktemp("reference") / "reference.keras"
    return reference_classifier(small, path=path, epochs=1, report=lambda m: None)


@pytest.fixture(scope="session")
def plain_training(small, small_mnist_npz, tmp_path_factory):
    """A tiny net1 run (2 epochs of 300 images, batch 50) trained from Python with plain
    progress lines: the run and the lines. Tests that change the run use a copy."""
    import io

    from mnist_vae import progress
    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.models import model_config
    from mnist_vae.training import train

    config = RunConfig(
        model=model_config("net1"),
        train=TrainConfig(epochs=2, batch_size=50, train_size=300, data=str(small_mnist_npz)),
    )
    stream = io.StringIO()
    previous = progress.configure(mode="plain", stream=stream)
    try:
        run = train(
            config,
            tmp_path_factory.mktemp("runs") / "net1",
            data=small,
            report=lambda message: None,
        )
    finally:
        progress.restore(previous)
    return run, stream.getvalue().splitlines()


@pytest.fixture(scope="session")
def one_epoch_run(small_mnist_npz, tmp_path_factory):
    """``one_epoch_run(strategy)``: a net1 run of ``strategy`` (latent 3, one epoch of 100
    images, batch 50), trained from Python on first use and shared. Read it; do not
    write into it."""
    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.models import model_config
    from mnist_vae.training import train

    folder = tmp_path_factory.mktemp("one-epoch-runs")
    runs = {}

    def trained(strategy: str):
        if strategy not in runs:
            config = RunConfig(
                model=model_config("net1", strategy=strategy, latent_dim=3),
                train=TrainConfig(
                    epochs=1,
                    batch_size=50,
                    train_size=100,
                    data=str(small_mnist_npz),
                    figures=False,
                ),
            )
            runs[strategy] = train(
                config, folder / strategy, progress=False, report=lambda message: None
            )
        return runs[strategy]

    return trained


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


@pytest.fixture
def two_images() -> np.ndarray:
    """Two random float images in [0, 1], shape (2, 28, 28, 1)."""
    return np.random.default_rng(1).random((2, 28, 28, 1)).astype("float32")


@pytest.fixture(scope="session")
def one_epoch_export(one_epoch_run, tmp_path_factory):
    """``one_epoch_export(strategy)``: the SavedModel export of ``one_epoch_run(strategy)``,
    made on first use and shared. Read it; a test that changes an export copies it first."""
    from mnist_vae.export import export_run

    folder = tmp_path_factory.mktemp("one-epoch-exports")
    exports = {}

    def exported(strategy: str):
        if strategy not in exports:
            exports[strategy] = export_run(one_epoch_run(strategy), folder / strategy)
        return exports[strategy]

    return exported
