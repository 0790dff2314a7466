"""``mnist-vae train --config FILE``: TOML or JSON settings under the command line's flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mnist_vae.training
from mnist_vae.config import RunConfig, TrainConfig, read_config_file
from mnist_vae.errors import ConfigError, RunError
from tests.helpers import ROOT, assert_one_line_error, invoke, never_called

EXAMPLE = ROOT / "docs" / "examples" / "net1.toml"
TINY = ["--epochs", "1", "--train-size", "100", "--batch-size", "50"]


@pytest.fixture
def trained_config(monkeypatch):
    """The RunConfig the CLI would train, caught before any training."""
    seen = {}

    def fake_train(config, out, **kwargs):
        seen["config"], seen["out"] = config, out
        raise RunError("stopped before training")

    monkeypatch.setattr(mnist_vae.training, "train", fake_train)

    def resolve(*args) -> RunConfig:
        seen.clear()
        result = invoke("train", *args)
        assert result.exit_code == 1 and "stopped before training" in result.output, result.output
        return seen["config"]

    return resolve


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_documented_example_is_the_report_protocol(trained_config, tmp_path):
    out = tmp_path / "run"
    assert trained_config("--config", EXAMPLE, "--out", out) == trained_config("--out", out)


def test_toml_and_json_files_load_alike(tmp_path, trained_config):
    settings = {
        "model": {
            "architecture": "net2",
            "latent_dim": 8,
            "strategy": "vae",
            "options": {"free_bits": 0.5},
        },
        "train": {"epochs": 3, "learning_rate": 0.001, "train_size": "all", "binarize": "dynamic"},
    }
    toml = write(
        tmp_path / "c.toml",
        """
[model]
architecture = "net2"
latent_dim = 8
strategy = "vae"
options = { free_bits = 0.5 }

[train]
epochs = 3
learning_rate = 0.001
train_size = "all"
binarize = "dynamic"
""",
    )
    as_json = write(tmp_path / "c.json", json.dumps(settings))
    expected = {**settings, "train": {**settings["train"], "train_size": None}}
    assert read_config_file(toml) == read_config_file(as_json) == expected

    config = trained_config("--config", toml, "--out", tmp_path / "run")
    assert config == trained_config("--config", as_json, "--out", tmp_path / "run")
    assert (config.model.architecture, config.model.latent_dim) == ("net2", 8)
    assert config.model.options == {"free_bits": 0.5}
    train = config.train
    assert (train.epochs, train.learning_rate, train.train_size) == (3, 0.001, None)
    assert (train.binarize, train.batch_size) == ("dynamic", TrainConfig().batch_size)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, small_mnist_npz):
    """One tiny real run whose config.json the tests below repeat (read only: they train
    or resolve the repeat elsewhere). Non-default settings throughout, figures off."""
    first = tmp_path_factory.mktemp("first") / "run"
    result = invoke(
        "train",
        *TINY,
        "--arch",
        "net2",
        "--latent-dim",
        "3",
        "--seed",
        "4",
        "--kl-warmup-epochs",
        "2",
        "--binarize",
        "--no-figures",
        "--data",
        small_mnist_npz,
        "--out",
        first,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    return first


def test_a_runs_config_json_repeats_the_run(first_run, tmp_path, monkeypatch):
    from mnist_vae.runs import load_run

    first = first_run
    run = load_run(first)
    recorded = json.loads((first / "config.json").read_text())
    assert {"mnist_vae_run", "versions", "created", "command", "data"} <= set(recorded)

    seen = {}

    def fake_train(config, out, **kwargs):
        seen["config"] = config
        raise RunError("stopped before training")

    monkeypatch.setattr(mnist_vae.training, "train", fake_train)
    again = invoke("train", "--config", first / "config.json", "--out", tmp_path / "second")
    assert again.exit_code == 1, again.output
    assert seen["config"] == run.config
    assert seen["config"].to_dict() == {key: recorded[key] for key in ("model", "train")}


def test_a_run_repeated_from_its_config_json_has_the_same_test_elbo(
    first_run, tmp_path, small_mnist_npz
):
    """The issue's check, end to end: same config, seed and data give the same -ELBO
    to the last bit (training is deterministic on CPU)."""
    first, second = first_run, tmp_path / "second"
    again = invoke(
        "train",
        "--config",
        first / "config.json",
        "--data",
        small_mnist_npz,
        "--out",
        second,
        "--quiet",
    )
    assert again.exit_code == 0, again.output
    metrics = [json.loads((run / "metrics.json").read_text()) for run in (first, second)]
    assert metrics[0]["test"] == metrics[1]["test"]
    assert np.isfinite(metrics[0]["test"]["negative_elbo"])


def test_flags_given_override_the_file_and_defaults_do_not(tmp_path, trained_config):
    config_file = write(
        tmp_path / "c.toml",
        """
[model]
latent_dim = 6
beta = 2.0
[train]
epochs = 7
seed = 9
batch_size = 64
""",
    )
    out = ["--out", tmp_path / "run"]
    from_file = trained_config("--config", config_file, *out)
    assert (from_file.model.latent_dim, from_file.model.beta) == (6, 2.0)
    assert (from_file.train.epochs, from_file.train.seed, from_file.train.batch_size) == (7, 9, 64)

    # Given flags win, even when they repeat the default (--seed 0); the rest stays.
    mixed = trained_config("--config", config_file, "--epochs", "2", "--seed", "0", *out)
    assert (mixed.train.epochs, mixed.train.seed, mixed.train.batch_size) == (2, 0, 64)
    assert (mixed.model.latent_dim, mixed.model.beta) == (6, 2.0)


def test_an_arch_or_strategy_flag_replaces_what_belongs_to_the_files(tmp_path, trained_config):
    config_file = write(
        tmp_path / "c.json",
        json.dumps(
            {
                "model": {
                    "architecture": "net1",
                    "encoder": "net1",
                    "decoder": "net1",
                    "strategy": "vae",
                    "options": {"free_bits": 0.25},
                },
                "train": {},
            }
        ),
    )
    out = ["--out", tmp_path / "run"]
    # The file's networks are net1's: --arch net3 brings net3's own.
    net3 = trained_config("--config", config_file, "--arch", "net3", *out).model
    assert (net3.architecture, net3.encoder, net3.decoder) == ("net3", "net3", "net3")
    # Strategy options given as flags join the file's; another strategy drops them.
    joined = trained_config("--config", config_file, "--kl-warmup-epochs", "3", *out).model
    assert joined.options == {"free_bits": 0.25, "kl_warmup_epochs": 3}
    iwae = trained_config("--config", config_file, "--strategy", "iwae", *out).model
    assert (iwae.strategy, iwae.options) == ("iwae", {})


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[train]\nepoch = 3\n", ["unknown key 'train.epoch'", "did you mean 'train.epochs'?"]),
        ("[train]\nlatent_dim = 3\n", ["'train.latent_dim'", "did you mean 'model.latent_dim'?"]),
        ("[training]\nepochs = 3\n", ["unknown key 'training'", "did you mean 'train'?"]),
        ("data = 'mnist.npz'\n", ["unknown key 'data'", "did you mean 'train.data'?"]),
        (
            "[model]\nlatent = 3\n[train]\nepoch = 3\n",
            [
                "unknown keys in",
                "'model.latent' (did you mean 'model.latent_dim'?)",
                "'train.epoch' (did you mean 'train.epochs'?)",
            ],
        ),
    ],
)
def test_unknown_keys_exit_2_naming_the_key_and_the_file(tmp_path, text, fragments):
    config_file = write(tmp_path / "c.toml", text)
    result = invoke("train", "--config", config_file, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, str(config_file), *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("c.toml", "[train]\nepochs = = 3\n", ["is not valid TOML", "line 2"]),
        ("c.toml", "[train\n", ["is not valid TOML", "line 1"]),
        ("c.json", '{"train": {"epochs": 3,}}', ["is not valid JSON", "line 1 column"]),
        ("c.json", "[1, 2]", ["must hold a table of settings"]),
        ("c.toml", "train = 3\n", ["'train' in", "must be a table"]),
        ("c.yaml", "train: {}\n", ["must end in .toml or .json"]),
        ("c.toml", "[train]\nepochs = 0\n", ["train.epochs in", "0 is not in the range"]),
        ("c.toml", "[model]\nstrategy = 'vea'\n", ["unknown strategy 'vea'"]),
    ],
)
def test_a_malformed_file_exits_2_in_one_line(tmp_path, name, text, fragments):
    config_file = write(tmp_path / name, text)
    result = invoke("train", "--config", config_file, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, *fragments)
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_a_bad_file_value_is_refused_even_where_a_flag_overrides_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_vae.training, "train", never_called)
    config_file = write(tmp_path / "c.json", json.dumps({"train": {"seed": 2**32}}))
    result = invoke("train", "--config", config_file, "--seed", "1", "--out", tmp_path / "run")
    assert_one_line_error(result, 2, str(config_file), "train.seed")


def test_a_runs_recorded_values_of_absent_flags_are_accepted(tmp_path, trained_config):
    """config.json records a left-out flag as null, --binarize's absence as "none" (0.3
    runs: true/false): those mean the flag left out, not a bad value."""
    recorded = {
        "model": {
            "architecture": None,
            "encoder": "net1",
            "decoder": "net1",
            "gaussian_variance": None,
        },
        "train": {
            "binarize": "none",
            "lr_decay": None,
            "train_size": None,
            "labels": None,
            "checkpoint_steps": None,
            "data": None,
        },
    }
    config_file = write(tmp_path / "c.json", json.dumps(recorded))
    config = trained_config("--config", config_file, "--out", tmp_path / "run")
    assert (config.model.encoder, config.train.binarize, config.train.train_size) == (
        "net1",
        "none",
        None,
    )
    legacy = write(tmp_path / "d.json", json.dumps({"train": {"binarize": True}}))
    assert trained_config("--config", legacy, "--out", tmp_path / "run").train.binarize == (
        "threshold"
    )


def test_config_is_refused_beside_resume(tmp_path):
    config_file = write(tmp_path / "c.toml", "[train]\nepochs = 3\n")
    result = invoke("train", "--config", config_file, "--resume", tmp_path / "run")
    assert_one_line_error(
        result, 2, "--resume continues with the run's own settings", "drop --config"
    )


def test_read_config_file_keeps_only_what_the_file_sets(tmp_path):
    assert read_config_file(write(tmp_path / "c.toml", "[train]\nseed = 3\n")) == {
        "model": {},
        "train": {"seed": 3},
    }
    with pytest.raises(ConfigError, match="unknown key 'created'"):
        read_config_file(write(tmp_path / "d.json", '{"created": "today", "train": {}}'))
