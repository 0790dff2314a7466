"""``mnist-vae train --tensorboard DIR``: Keras's scalars and our images, read back."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.helpers import assert_one_line_error, invoke

# Two epochs (the scalars are per epoch) of two steps; no figures (not the point here).
TINY = ["--epochs", "2", "--train-size", "100", "--batch-size", "50", "--no-figures", "--quiet"]


def read_events(folder) -> dict[str, list[int]]:
    """Each summary tag in ``folder``'s event files -> the steps it was written at."""
    import tensorflow as tf

    steps: dict[str, list[int]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                steps.setdefault(value.tag, []).append(event.step)
    return steps


def image_plugin_tags(folder) -> set[str]:
    import tensorflow as tf

    return {
        value.tag
        for path in folder.glob("events.out.tfevents.*")
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
        if value.metadata.plugin_data.plugin_name == "images"
    }


def test_tensorboard_logs_losses_learning_rate_and_images(tmp_path, small_mnist_npz):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from mnist_vae.runs import load_run

    logs = tmp_path / "logs"
    args = ["train", *TINY, "--data", small_mnist_npz]
    result = invoke(*args, "--out", tmp_path / "run", "--tensorboard", logs)
    assert result.exit_code == 0, result.output

    train, test = read_events(logs / "train"), read_events(logs / "validation")
    history = load_run(tmp_path / "run").history()
    for name in ("loss", "reconstruction", "kl"):
        assert train[f"epoch_{name}"] == [0, 1] and f"val_{name}" in history
        assert test[f"epoch_{name}"] == [0, 1]
    assert train["epoch_learning_rate"] == [0, 1]
    images = read_events(logs / "images")
    # --tensorboard-images-every 5: no 5th epoch here, so only after the last (step 1).
    assert images == {"reconstructions": [1], "samples": [1]}
    assert image_plugin_tags(logs / "images") == {"reconstructions", "samples"}

    # The log is no setting of the run: it trains the same without it and records none.
    plain = invoke(*args, "--out", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    with_log, without = load_run(tmp_path / "run"), load_run(tmp_path / "plain")
    assert with_log.config == without.config
    assert with_log.metrics["test"] == without.metrics["test"]
    for x, y in zip(with_log.load_model().weights, without.load_model().weights, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_images_every_n_epochs_and_after_the_last(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    import keras

    from mnist_vae.training.tensorboard import TensorBoardImages

    written = []
    callback = TensorBoardImages(
        tmp_path, np.zeros((2, 28, 28, 1)), None, every=2, epochs=5, seed=0
    )
    callback.write = written.append
    callback.set_model(keras.Sequential())
    for epoch in range(5):
        callback.on_epoch_end(epoch)
    assert written == [1, 3, 4]


def test_the_cli_default_is_the_librarys():
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from mnist_vae.training.run_settings import RunControls
    from mnist_vae.training.tensorboard import IMAGES_EVERY

    assert RunControls().tensorboard_images_every == IMAGES_EVERY


def test_without_the_package_tensorboard_fails_in_one_line_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    result = invoke("train", "--tensorboard", tmp_path / "logs", "--out", tmp_path / "run")
    assert_one_line_error(
        result,
        2,
        "--tensorboard needs the tensorboard package: pip install 'mnist-vae[tensorboard]'",
    )
    assert not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()


def test_tensorboard_options_are_checked_before_any_work(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    run = tmp_path / "run"
    inside = invoke("train", "--tensorboard", run / "logs", "--out", run)
    assert_one_line_error(inside, 2, "is inside the run directory")
    alone = invoke("train", "--tensorboard-images-every", "2", "--out", run)
    assert_one_line_error(alone, 2, "--tensorboard-images-every needs --tensorboard DIR")
    assert not run.exists()
    # Not a setting of the run: allowed beside --resume (which then finds nothing to resume).
    resumed = invoke("train", "--resume", run, "--tensorboard", tmp_path / "logs")
    assert_one_line_error(resumed, 2, "nothing to resume")
