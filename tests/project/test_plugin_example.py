"""The strategy file that docs/plugins.md walks through, run exactly as printed there."""

from __future__ import annotations

import importlib.util
import re
import sys

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.models import build_model, model_config
from mnist_vae.registry import strategies
from mnist_vae.runs import load_run
from tests.helpers import ROOT, TINY_TRAINING, data_out

DOC = ROOT / "docs" / "plugins.md"


def example_source() -> str:
    text = DOC.read_text()
    block = re.search(
        r"<!-- strategy-example:start -->\n```python\n(.*?)```\n<!-- strategy-example:end -->",
        text,
        re.DOTALL,
    )
    assert block, "docs/plugins.md lost its strategy example markers"
    return block.group(1)


@pytest.fixture
def warmup_strategy(tmp_path):
    """The example imported as a module, its registration undone afterwards."""
    path = tmp_path / "warmup.py"
    path.write_text(example_source())
    with strategies.isolated():
        spec = importlib.util.spec_from_file_location("mnist_vae_docs_warmup", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
            yield module
        finally:
            sys.modules.pop(spec.name, None)
    assert "warmup" not in strategies.names()


def test_the_documented_strategy_builds_trains_a_step_and_round_trips(
    warmup_strategy, tmp_path, mnist
):
    images = (mnist.x_test[:16, ..., None] / 255.0).astype("float32")
    labels = mnist.y_test[:16].astype("int32")
    model = build_model(model_config("net1", strategy="warmup", options={"warmup_steps": 5}))
    assert type(model).__name__ == "WarmupVAE" and model.options.warmup_steps == 5
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    logs = model.fit(images, labels, batch_size=16, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "reconstruction", "kl"}
    assert all(np.isfinite(values[0]) for values in logs.values())
    assert int(model.optimizer.iterations.numpy()) == 1
    model.save(tmp_path / "warmup.keras")
    loaded = keras.saving.load_model(tmp_path / "warmup.keras")
    assert type(loaded) is type(model) and loaded.options == model.options
    np.testing.assert_array_equal(loaded.reconstruct(images), model.reconstruct(images))
    np.testing.assert_array_equal(loaded.sample(4, seed=1), model.sample(4, seed=1))


def test_the_documented_strategy_defaults_and_checks_its_option(warmup_strategy):
    from mnist_vae.errors import ConfigError

    assert warmup_strategy.WarmupOptions().warmup_steps == 1000
    with pytest.raises(ConfigError, match="--warmup-steps must be >= 1"):
        model_config("net1", strategy="warmup", options={"warmup_steps": 0})
    with pytest.raises(ConfigError, match="--warmup-steps must be a whole number"):
        model_config("net1", strategy="warmup", options={"warmup_steps": "half"})


def test_the_documented_strategy_trains_from_the_cli(warmup_strategy, tmp_path, small_mnist_npz):
    out = tmp_path / "run"
    options = ["--strategy", "warmup", "--option", "warmup_steps=2", *TINY_TRAINING]
    result = CliRunner().invoke(
        cli, ["train", *options, *data_out(small_mnist_npz, out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    run = load_run(out)
    assert run.config.model.options == {"warmup_steps": 2}
    assert type(run.load_model()).__name__ == "WarmupVAE"
