"""Shipped model files: no optimizer state, weights at float16 precision, same behaviour."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest

from mnist_vae.runs import load_run
from mnist_vae.runs.compact import compact_model_file, round_to_half


def test_rounding_to_half_by_hand():
    # float16 has 10 mantissa bits: steps of 2^-10 between 1 and 2, 2^-24 below 2^-14.
    values = np.array([1.0, 1.0004, 1.0006, -3.14159, 2.0**-25, 0.0], dtype=np.float32)
    rounded = round_to_half(values)
    assert rounded.dtype == np.float32
    assert rounded.tolist() == [1.0, 1.0, 1.0 + 2.0**-10, -3.140625, 0.0, 0.0]


def test_rounding_refuses_what_half_cannot_hold():
    with pytest.raises(ValueError, match="float16's range"):
        round_to_half(np.array([7e4], dtype=np.float32))
    assert np.isnan(round_to_half(np.array([np.nan], dtype=np.float32))).all()


def weight_entries(path) -> list[str]:
    import h5py

    names = []
    with (
        zipfile.ZipFile(path) as archive,
        archive.open("model.weights.h5") as weights,
        h5py.File(weights, "r") as store,
    ):
        store.visit(names.append)
    return names


def stored_dtypes(path) -> dict[str, str]:
    import h5py

    found = {}
    with (
        zipfile.ZipFile(path) as archive,
        archive.open("model.weights.h5") as weights,
        h5py.File(weights, "r") as store,
    ):
        store.visititems(
            lambda name, item: (
                found.__setitem__(name, str(item.dtype)) if isinstance(item, h5py.Dataset) else None
            )
        )
    return found


@pytest.mark.parametrize("half", [False, True])
def test_a_compact_model_keeps_its_weights_and_drops_the_optimizer(one_epoch_run, tmp_path, half):
    run = one_epoch_run("vae")
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy)
    rounded = compact_model_file(run.path / "model.keras", copy / "model.keras", half=half)

    assert any(name.startswith("optimizer") for name in weight_entries(run.path / "model.keras"))
    stored = stored_dtypes(copy / "model.keras")
    assert ("float16" in stored.values()) == half  # the rounded weights, stored as float16
    assert not any(name.startswith("optimizer") for name in weight_entries(copy / "model.keras"))
    original, compact = run.load_model(), load_run(copy).load_model()
    assert compact.compiled  # loading compiles it again, so evaluate works
    expected = [np.asarray(w) for w in original.trainable_weights]
    if half:
        expected = [round_to_half(w) for w in expected]
        assert rounded == sum(w.size for w in expected)
        assert any(
            not np.array_equal(w, np.asarray(o))
            for w, o in zip(expected, original.trainable_weights, strict=True)
        )
    else:
        assert rounded == 0
    for got, want in zip(compact.trainable_weights, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(got), want)
    images = np.asarray(compact.sample(2, seed=0))
    assert images.shape == (2, 28, 28, 1) and np.isfinite(images).all()


def test_rounding_reaches_a_frozen_network_but_not_running_statistics(tmp_path):
    """m1_m2 keeps its given M1 frozen: its weights round (and halve) like the rest."""
    import keras

    frozen = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)], name="frozen")
    frozen.trainable = False
    model = keras.Sequential([keras.Input((3,)), frozen, keras.layers.BatchNormalization()])
    third = np.float32(1 / 3)
    for variable in model.weights:
        variable.assign(np.full(variable.shape, third, dtype=np.float32))
    model.save(tmp_path / "source.keras")

    rounded = compact_model_file(tmp_path / "source.keras", tmp_path / "small.keras", half=True)

    assert rounded == 3 * 4 + 4 + 4 + 4  # the frozen kernel and bias, gamma and beta
    compact = keras.saving.load_model(tmp_path / "small.keras", compile=False)
    kernel, bias = compact.layers[0].get_weights()
    np.testing.assert_array_equal(kernel, round_to_half(np.full((3, 4), third)))
    np.testing.assert_array_equal(bias, round_to_half(np.full(4, third)))
    assert kernel[0, 0] != third
    moving_mean = compact.layers[1].moving_mean
    assert np.asarray(moving_mean)[0] == third  # a running statistic keeps its value
    assert len(compact.trainable_weights) == 2  # still frozen: only gamma and beta train
