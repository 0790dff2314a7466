"""Mixed-precision training: detection, the switch, and float32 runs afterwards."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.errors import ConfigError
from mnist_vae.models import build_model, model_config
from mnist_vae.training import train
from mnist_vae.training.precision import cpu_has_bfloat16, resolve_precision, set_network_precision

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n"


@pytest.mark.parametrize(
    ("extra", "expected"), [("amx_bf16 amx_tile", True), ("avx512_bf16", True), ("", False)]
)
def test_bfloat16_detection_reads_cpu_flags(tmp_path, extra, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    assert cpu_has_bfloat16(cpuinfo) is expected
    assert cpu_has_bfloat16(tmp_path / "missing") is False


def test_auto_precision_follows_the_hardware_and_explicit_choices_stay():
    assert resolve_precision("auto", bfloat16_available=True) == "mixed_bfloat16"
    assert resolve_precision("auto", bfloat16_available=False) == "float32"
    assert resolve_precision("float32", bfloat16_available=True) == "float32"
    assert resolve_precision("mixed_bfloat16", bfloat16_available=False) == "mixed_bfloat16"
    with pytest.raises(ConfigError, match="precision must be one of"):
        TrainConfig(precision="float16")


def test_switching_networks_keeps_float32_variables_and_float32_losses():
    model = build_model(model_config("net1", latent_dim=2), seed=0)
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    set_network_precision(model, "mixed_bfloat16")
    assert model.decoder.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    reconstruction, kl = model.elbo_terms(images)  # casts at the network outputs
    assert reconstruction.dtype == "float32" and kl.dtype == "float32"
    set_network_precision(model, "float32")
    assert model.encoder.compute_dtype == model.decoder.compute_dtype == "float32"


def test_mixed_precision_run_is_saved_as_float32_and_close_to_float32_training(
    tmp_path, small_mnist_npz, plain_training
):
    full, _ = plain_training  # conftest's float32 run: the same settings but the precision
    config = RunConfig(
        model=model_config("net1", latent_dim=2),
        train=TrainConfig(
            epochs=2,
            batch_size=50,
            train_size=300,
            precision="mixed_bfloat16",
            data=str(small_mnist_npz),
            figures=False,
        ),
    )
    assert full.config.model == config.model and full.config.train.precision == "float32"
    assert (
        dataclasses.replace(full.config.train, precision="mixed_bfloat16", figures=False)
        == config.train
    )
    mixed = train(config, tmp_path / "mixed", progress=False, report=lambda m: None)
    assert mixed.config.train.precision == "mixed_bfloat16"
    model = mixed.load_model()
    assert model.decoder.compute_dtype == "float32"
    assert model.decoder(np.zeros((1, 2), "float32")).dtype == "float32"
    # Same data, seed and steps: the two precisions end within a few nats of each other.
    gap = abs(mixed.metrics["test"]["negative_elbo"] - full.metrics["test"]["negative_elbo"])
    assert gap < 0.03 * full.metrics["test"]["negative_elbo"]
