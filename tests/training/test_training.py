"""Training from Python: reproducibility, run contents, and failure leaving no trace."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.data import load_mnist
from mnist_vae.errors import RunError
from mnist_vae.models import model_config
from mnist_vae.training import train
from mnist_vae.training.precision import resolve_precision


def quick_config(small_mnist_npz, **model_options) -> RunConfig:
    arch = model_options.pop("arch", "net1")
    train_options = {"figures": False, **model_options.pop("train", {})}
    return RunConfig(
        model=model_config(arch, **model_options),
        train=TrainConfig(
            epochs=1, batch_size=50, train_size=100, data=str(small_mnist_npz), **train_options
        ),
    )


def weights(run):
    return [w.numpy() for w in run.load_model().weights]


def test_same_seed_same_run_and_another_seed_differs(tmp_path, small_mnist_npz, one_epoch_run):
    # conftest's shared vae run is the first; the same config trained again is the second.
    config = quick_config(small_mnist_npz, strategy="vae", latent_dim=3)
    first = one_epoch_run("vae")
    assert first.config == config, "the shared run must be this test's config"
    second = train(config, tmp_path / "b", progress=False, report=lambda m: None)
    for x, y in zip(weights(first), weights(second), strict=True):
        np.testing.assert_array_equal(x, y)
    assert first.metrics["test"] == second.metrics["test"]

    other = quick_config(small_mnist_npz, strategy="vae", latent_dim=3, train={"seed": 1})
    third = train(other, tmp_path / "c", progress=False, report=lambda m: None)
    assert any(
        not np.array_equal(x, y) for x, y in zip(weights(first), weights(third), strict=True)
    )


def test_run_config_round_trips_through_json(tmp_path, small_mnist_npz):
    config = quick_config(
        small_mnist_npz, latent_dim=3, likelihood="gaussian", beta=0.5, train={"optimizer": "sgdm"}
    )
    run = train(config, tmp_path / "run", progress=False, report=lambda m: None)
    assert run.config == config
    # "auto" precision is recorded as the precision this machine trained with.
    auto = dataclasses.replace(config, train=dataclasses.replace(config.train, precision="auto"))
    run = train(auto, tmp_path / "auto", progress=False, report=lambda m: None)
    resolved = dataclasses.replace(
        config, train=dataclasses.replace(config.train, precision=resolve_precision("auto"))
    )
    assert run.config == resolved
    saved = json.loads((tmp_path / "auto" / "config.json").read_text())
    assert RunConfig.from_dict(saved) == resolved


def test_larger_latents_get_a_pca_projection_and_no_grid(tmp_path, small_mnist_npz):
    run = train(
        quick_config(small_mnist_npz, latent_dim=4, train={"figures": True}),
        tmp_path / "run",
        progress=False,
        report=lambda m: None,
    )
    figures = run.path / "figures"
    assert not (figures / "latent_grid.png").exists()
    assert (figures / "latent.png").exists()
    assert (figures / "traversals.png").exists() and (figures / "interpolations.png").exists()
    assert "PCA" in json.loads((figures / "figures.json").read_text())["latent_projection"]
    assert run.digit_means().shape == (10, 4)


def test_divergence_raises_and_writes_nothing(tmp_path, small_mnist_npz):
    from mnist_vae.registry import likelihoods

    def exploding(x, logits, *, variance=1.0):
        return logits[:, 0, 0, 0] * float("nan")

    with likelihoods.temporary(exploding):
        config = quick_config(small_mnist_npz, likelihood="exploding")
        with pytest.raises(RunError, match="diverged"):
            train(config, tmp_path / "run", progress=False, report=lambda m: None)
    assert not (tmp_path / "run").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_finite_blow_up_is_a_divergence_too(tmp_path, small_mnist_npz):
    """A loss of 1e16 nats per image is not a result: refused like NaN, nothing written."""
    from mnist_vae.registry import likelihoods

    def blowing_up(x, logits, *, variance=1.0):
        return 1e16 + 0.0 * logits[:, 0, 0, 0]

    with likelihoods.temporary(blowing_up):
        config = quick_config(small_mnist_npz, likelihood="blowing_up")
        with pytest.raises(RunError, match=r"reached 1e\+16 nats per image"):
            train(config, tmp_path / "run", progress=False, report=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_divergence_advice_names_the_settings_in_play():
    from mnist_vae.training.trainer import divergence_remedies

    plain = RunConfig(model=model_config("net1"))
    assert divergence_remedies(plain) == "a lower --lr than 0.005"
    risky = RunConfig(
        model=model_config("net1", beta=8.0, likelihood="gaussian", gaussian_variance=0.001)
    )
    advice = divergence_remedies(risky)
    assert "--beta nearer 1 than 8" in advice and "larger --gaussian-variance" in advice


def test_train_accepts_preloaded_data(tmp_path, small_mnist_npz):
    data = load_mnist(small_mnist_npz)
    messages = []
    run = train(
        quick_config(small_mnist_npz),
        tmp_path / "run",
        data=data,
        progress=False,
        report=messages.append,
    )
    assert run.record["data"]["source"] == data.source
    assert any("canonical" in m or "MNIST-like" in m for m in messages)


def test_the_documented_zero_values_are_accepted_and_mean_what_they_say():
    """--lr-decay 0 (a constant sgdm rate) and --beta 0 (no KL: an autoencoder)."""
    import keras

    from mnist_vae.models import build_model, build_optimizer

    config = TrainConfig(optimizer="sgdm", learning_rate=0.01, lr_decay=0.0)  # refused before
    optimizer = build_optimizer(config, steps_per_epoch=10)
    schedule = keras.optimizers.schedules.LearningRateSchedule
    assert not isinstance(optimizer._learning_rate, schedule)
    assert float(optimizer.learning_rate) == pytest.approx(0.01)
    model = build_model(model_config("net1", beta=0.0), seed=0)  # refused before
    assert model.beta == 0.0 and float(model.kl_weight()) == 0.0
