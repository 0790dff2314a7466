"""The VAE model: its update rule, its ELBO bookkeeping and its .keras round trip."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.models import VAE, build_model, model_config
from tests.helpers import fixed_vae


def test_evaluate_reports_the_negative_elbo_computed_by_hand():
    # Decoder logit 0 -> every pixel costs ln 2 under Bernoulli, whatever x is.
    # KL of N((1, 0), diag(1, 2)) to N(0, I) = 0.5 + 0.5 * (1 - ln 2).
    model = fixed_vae(mean=[1.0, 0.0], log_variance=[0.0, math.log(2.0)], logits=0.0)
    model.compile(optimizer="sgd")
    x = np.random.default_rng(0).random((10, 28, 28, 1)).astype("float32")
    result = model.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    reconstruction = 784 * math.log(2.0)
    kl = 0.5 + 0.5 * (1.0 - math.log(2.0))
    assert result["reconstruction"] == pytest.approx(reconstruction, rel=1e-5)
    assert result["kl"] == pytest.approx(kl, rel=1e-5)
    assert result["loss"] == pytest.approx(reconstruction + kl, rel=1e-5)


def test_loss_metric_is_the_elbo_even_when_beta_weights_kl():
    model = fixed_vae(mean=[2.0], log_variance=[0.0], logits=0.0, beta=0.25)
    model.compile(optimizer="sgd")
    result = model.evaluate(np.zeros((4, 28, 28, 1), "float32"), verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(784 * math.log(2.0) + 2.0, rel=1e-5)


@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_train_step_applies_the_gradient_of_reconstruction_plus_beta_kl(tiny_images, beta):
    """One SGD step moves every weight by -lr * d(mean reconstruction + beta * mean KL)."""
    keras.utils.set_random_seed(0)
    model = build_model(model_config("net1", latent_dim=2, beta=beta), seed=7)
    learning_rate = 0.01
    model.compile(optimizer=keras.optimizers.SGD(learning_rate))
    model.optimizer.build(model.trainable_weights)
    before = [w.numpy().copy() for w in model.trainable_weights]
    state = model.sampler.seed_generator.state.numpy().copy()

    with tf.GradientTape() as tape:
        reconstruction, kl = model.elbo_terms(tiny_images, training=True)
        objective = tf.reduce_mean(reconstruction) + beta * tf.reduce_mean(kl)
    gradients = tape.gradient(objective, model.trainable_weights)
    expected = [w - learning_rate * g.numpy() for w, g in zip(before, gradients, strict=True)]

    model.sampler.seed_generator.state.assign(state)  # same noise as the manual pass
    model.train_on_batch(tiny_images)
    for got, want in zip(model.trainable_weights, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-6)


def test_keras_round_trip_gives_identical_outputs(tmp_path, tiny_images):
    keras.utils.set_random_seed(0)
    model = build_model(model_config("net3", latent_dim=3, likelihood="gaussian", beta=0.5), seed=3)
    model.compile(optimizer="adam")
    model.fit(tiny_images, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert isinstance(loaded, VAE)
    assert (loaded.latent_dim, loaded.likelihood, loaded.beta) == (3, "gaussian", 0.5)
    for method in ("reconstruct", "call"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(tiny_images), getattr(model, method)(tiny_images)
        )
    mean, log_variance = model.encode_distribution(tiny_images)
    loaded_mean, loaded_log_variance = loaded.encode_distribution(tiny_images)
    np.testing.assert_array_equal(mean, loaded_mean)
    np.testing.assert_array_equal(log_variance, loaded_log_variance)
    np.testing.assert_array_equal(loaded.sample(5, seed=11), model.sample(5, seed=11))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())


def test_sampling_is_seeded_and_in_unit_range():
    model = build_model(model_config("net1"), seed=0)
    first, again, other = model.sample(6, seed=1), model.sample(6, seed=1), model.sample(6, seed=2)
    assert first.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    values = keras.ops.convert_to_numpy(first)
    assert values.min() >= 0.0 and values.max() <= 1.0


def test_inference_is_deterministic_and_training_samples(tiny_images):
    model = build_model(model_config("net1"), seed=0)
    np.testing.assert_array_equal(model(tiny_images), model.reconstruct(tiny_images))
    assert not np.array_equal(model(tiny_images, training=True), model(tiny_images, training=True))


def test_gaussian_likelihood_trains_to_finite_losses(tiny_images):
    model = build_model(model_config("net4", likelihood="gaussian", gaussian_variance=0.5), seed=0)
    model.compile(optimizer="adam")
    history = model.fit(tiny_images, epochs=2, batch_size=4, verbose=0).history
    assert all(np.isfinite(history["loss"]))
    # Gaussian NLL includes 0.5 * D * ln(2 pi variance), which is positive for variance 0.5.
    assert history["reconstruction"][-1] > 0.5 * 784 * math.log(math.pi) - 1.0
