"""Custom layers: the reparameterised sampler and the spectrally normalised conv."""

from __future__ import annotations

import keras
import numpy as np

from mnist_vae.models.layers import GaussianSample
from mnist_vae.zoo.discriminators import SpectralConv2D


def test_gaussian_sample_has_the_right_moments_and_is_seeded():
    mean = np.full((20_000, 2), [1.0, -2.0], "float32")
    log_variance = np.full((20_000, 2), [0.0, np.log(4.0)], "float32")
    draws = keras.ops.convert_to_numpy(GaussianSample(seed=3)(mean, log_variance))
    np.testing.assert_allclose(draws.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(draws.std(axis=0), [1.0, 2.0], rtol=0.03)
    again = keras.ops.convert_to_numpy(GaussianSample(seed=3)(mean, log_variance))
    np.testing.assert_array_equal(draws, again)


def spectral_model():
    images = keras.Input((28, 28, 1))
    outputs = SpectralConv2D(8, 4, strides=2, padding="same", activation="elu")(images)
    return keras.Model(images, outputs)


def test_spectral_conv_divides_the_kernel_by_its_largest_singular_value():
    model = spectral_model()
    layer = model.layers[1]
    layer.kernel.assign(layer.kernel * 7.0)
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    for _ in range(50):  # power iteration converges over training calls
        model(images, training=True)
    normalised = keras.ops.convert_to_numpy(layer.normalized_kernel()).reshape(-1, 8)
    assert abs(np.linalg.svd(normalised, compute_uv=False)[0] - 1.0) < 1e-3


def test_spectral_conv_never_writes_the_normalised_kernel_back():
    model = spectral_model()
    layer = model.layers[1]
    kernel = layer.kernel.numpy().copy()
    u = layer.u.numpy().copy()
    model(np.ones((2, 28, 28, 1), "float32"), training=True)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    assert not np.array_equal(layer.u.numpy(), u)  # only the power-iteration vector moves
    u = layer.u.numpy().copy()
    model(np.ones((2, 28, 28, 1), "float32"), training=False)
    np.testing.assert_array_equal(layer.u.numpy(), u)


def test_spectral_conv_round_trips_with_its_power_iteration_state(tmp_path):
    model = spectral_model()
    images = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    for _ in range(5):
        model(images, training=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded(images), model(images))
    np.testing.assert_array_equal(loaded.layers[1].u.numpy(), model.layers[1].u.numpy())


def test_condition_planes_enter_the_mlp_encoder_as_their_values(tmp_path):
    """FlattenWithCondition gives the flattened image and one value per plane, so the
    conditional mlp encoder sees [pixels, one-hot] and round-trips through saving."""
    from mnist_vae.config import NUM_CLASSES
    from mnist_vae.registry import encoders, load_registrations
    from mnist_vae.zoo.layers import FlattenWithCondition

    load_registrations()
    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28, 1)).astype("float32")
    one_hot = np.eye(NUM_CLASSES, dtype="float32")[[2, 0, 9]]
    inputs = np.concatenate([images, np.ones((3, 28, 28, 1)) * one_hot[:, None, None]], -1)
    flat = keras.ops.convert_to_numpy(FlattenWithCondition(1)(inputs.astype("float32")))
    np.testing.assert_allclose(flat, np.concatenate([images.reshape(3, -1), one_hot], -1))

    encoder = encoders.get("mlp")(4, input_shape=(28, 28, 1 + NUM_CLASSES))
    assert encoder.layers[1].kernel.shape[0] == 784 + NUM_CLASSES
    encoder.save(tmp_path / "encoder.keras")
    again = keras.saving.load_model(tmp_path / "encoder.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again(inputs)),
        keras.ops.convert_to_numpy(encoder(inputs)),
        rtol=1e-6,
    )
