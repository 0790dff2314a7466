"""Binary pixels: thresholded, or drawn from the grey levels (dynamic binarization)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.config import TrainConfig
from mnist_vae.data import binarize_test_set, make_dataset, sampled_binary
from mnist_vae.errors import ConfigError

GREY = np.array([[[0, 64, 128, 255]]], np.uint8).repeat(4000, axis=0)  # (4000, 1, 4)


def test_sampled_binary_draws_each_pixel_with_its_grey_level():
    binary = sampled_binary(GREY, seed=3)
    assert set(np.unique(binary)) == {0, 255}
    rates = (binary == 255).mean(axis=0)[0]
    np.testing.assert_allclose(rates, [0.0, 64 / 255, 128 / 255, 1.0], atol=0.03)
    np.testing.assert_array_equal(binary, sampled_binary(GREY, seed=3))
    assert not np.array_equal(binary, sampled_binary(GREY, seed=4))


def test_the_dynamic_test_set_is_one_fixed_draw():
    first = binarize_test_set(GREY, "dynamic")
    np.testing.assert_array_equal(first, binarize_test_set(GREY, "dynamic"))
    np.testing.assert_array_equal(binarize_test_set(GREY, "threshold")[0, 0], [0, 0, 255, 255])
    assert binarize_test_set(GREY, "none") is GREY


def _epochs(dataset, count: int) -> list[np.ndarray]:
    return [np.concatenate([images.numpy() for images, _ in dataset]) for _ in range(count)]


def test_the_pipeline_draws_new_binary_pixels_every_epoch_reproducibly():
    images = np.full((64, 28, 28), 100, np.uint8)
    labels = np.zeros(64, np.uint8)
    dataset = make_dataset(images, labels, 16, shuffle=True, seed=5, resample_binary=True)
    first, second = _epochs(dataset, 2)
    assert set(np.unique(first)) == {0.0, 1.0}
    assert abs(first.mean() - 100 / 255) < 0.01
    assert not np.array_equal(first, second)  # a new draw each epoch
    again = make_dataset(images, labels, 16, shuffle=True, seed=5, resample_binary=True)
    np.testing.assert_array_equal(_epochs(again, 2)[1], second)  # the same seed: the same draws


def test_train_config_reads_the_binarize_flags_of_earlier_runs():
    assert TrainConfig(binarize=True).binarize == "threshold"
    assert TrainConfig(binarize=False).binarize == "none"
    with pytest.raises(ConfigError, match="binarize must be one of none, threshold, dynamic"):
        TrainConfig(binarize="sometimes")


@pytest.mark.parametrize(
    ("flags", "mode"),
    [([], "none"), (["--binarize"], "threshold"), (["--binarize", "dynamic"], "dynamic")],
)
def test_train_records_the_binarization(tmp_path, small_mnist_npz, flags, mode):
    out = tmp_path / "run"
    args = [
        "train",
        *flags,
        "--epochs",
        "1",
        "--train-size",
        "50",
        "--batch-size",
        "50",
        "--no-figures",
        "--data",
        str(small_mnist_npz),
        "--out",
        str(out),
        "--quiet",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["train"]["binarize"] == mode
    if mode == "dynamic":
        evaluate = [
            "evaluate",
            str(out),
            "--no-quality",
            "--iw-samples",
            "2",
            "--data",
            str(small_mnist_npz),
        ]
        assert CliRunner().invoke(cli, evaluate).exit_code == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["evaluation_dynamic_binarized"]["binarized"] == "dynamic"


def test_an_epochs_order_and_draws_depend_on_the_epoch_alone():
    """A pipeline started at epoch 1 (a resumed run) sees what a fresh one sees second."""
    from mnist_vae.data import EpochClock

    images = np.random.default_rng(0).integers(0, 256, (48, 28, 28)).astype(np.uint8)
    labels = np.arange(48) % 10
    fresh = make_dataset(images, labels, 16, shuffle=True, seed=5, resample_binary=True)
    second = _epochs(fresh, 2)[1]
    resumed = make_dataset(
        images, labels, 16, shuffle=True, seed=5, resample_binary=True, clock=EpochClock(1)
    )
    np.testing.assert_array_equal(_epochs(resumed, 1)[0], second)
