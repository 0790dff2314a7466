"""A RunConfig from settings as a front end collects them (mnist_vae/training/run_settings.py):
values given, a config file laid out as a run's config.json, the declared defaults."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from mnist_vae.config import TrainConfig
from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.training.run_settings import default_out, result_line, run_config_from_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_no_settings_are_the_declared_defaults():
    config = run_config_from_settings({})
    assert config.train == TrainConfig()
    assert (config.model.architecture, config.model.strategy, config.model.options) == (
        "net1",
        "vae",
        {},
    )


def test_values_given_win_over_the_file_and_the_rest_come_from_it(tmp_path):
    config_file = write(tmp_path / "c.toml", "[model]\nlatent_dim = 6\n[train]\nepochs = 7\n")
    config = run_config_from_settings({"epochs": 2}, config_file=str(config_file))
    assert (config.train.epochs, config.model.latent_dim) == (2, 6)
    # As the CLI says it: a value not given (defaulted) gives way to the file's.
    config = run_config_from_settings({"epochs": 40}, config_file=str(config_file), given=())
    assert config.train.epochs == 7


def test_strategy_options_join_the_files_of_the_same_strategy(tmp_path):
    config_file = write(
        tmp_path / "c.json",
        json.dumps({"model": {"strategy": "vae", "options": {"free_bits": 0.25}}}),
    )
    joined = run_config_from_settings({}, {"kl_warmup_epochs": 3}, str(config_file))
    assert joined.model.options == {"free_bits": 0.25, "kl_warmup_epochs": 3}
    other = run_config_from_settings({"strategy": "iwae"}, {}, str(config_file))
    assert (other.model.strategy, other.model.options) == ("iwae", {})


def test_an_unknown_setting_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown settings: epoch"):
        run_config_from_settings({"epoch": 3})


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        # The flags' bounds: --seed takes 0..2^32-1, --latent-dim 1..4096, --lr > 0.
        ("[train]\nseed = 4294967296\n", ["train.seed", "4294967296 is not in the range"]),
        ("[train]\nseed = -1\n", ["train.seed", "-1 is not in the range"]),
        ("[model]\nlatent_dim = 5000\n", ["model.latent_dim", "5000 is not in the range"]),
        ("[train]\nlearning_rate = 0\n", ["train.learning_rate", "--lr", "not in the range"]),
        (
            "[train]\ncheckpoint_steps = -5\n",
            ["train.checkpoint_steps", "--checkpoint-every-steps"],
        ),
        ("[train]\ntrain_size = 0\n", ["train.train_size", "not a positive number"]),
        # The flags' types: no silent int(), float() or bool() of another type.
        ("[train]\ndata = 5\n", ["train.data", "must be text", "got 5"]),
        ("[train]\nepochs = 5.5\n", ["train.epochs", "must be a whole number", "5.5"]),
        ("[train]\nepochs = '5'\n", ["train.epochs", "must be a whole number", "'5'"]),
        ("[train]\nbatch_size = true\n", ["train.batch_size", "must be a whole number"]),
        ("[train]\nfigures = 1\n", ["train.figures", "must be true or false"]),
        ("[model]\nbeta = nan\n", ["model.beta", "must be a finite number"]),
        ("[model]\nbeta = 'high'\n", ["model.beta", "must be a number"]),
        # The flags' choices and paths.
        ("[train]\nprecision = 'float16'\n", ["train.precision", "'float16' is not one of"]),
        ("[train]\ndata = 'no/such.npz'\n", ["train.data", "does not exist"]),
        ("[train]\nepochs = 3\nseed = 4294967296\n", ["train.seed", "--seed"]),
        # Strategy options: each checked as its flag is, named as the file's.
        (
            "[model]\nstrategy = 'vaegan'\noptions = { gamma = -1 }\n",
            ["model.options", "--gamma must be >= 0"],
        ),
        (
            "[model]\noptions = { flow_steps = 'many' }\n",
            ["model.options", "--flow-steps must be a whole number"],
        ),
    ],
)
def test_file_values_are_checked_like_flags(tmp_path, text, fragments):
    """A value the flag would refuse is a usage error (the CLI's exit 2) before any work,
    naming the key, the file and the flag that overrides it."""
    config_file = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as caught:
        run_config_from_settings({}, config_file=str(config_file))
    message = str(caught.value)
    assert str(config_file) in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_the_default_folder_and_the_result_line():
    config = run_config_from_settings({"seed": 4})
    assert default_out(config).startswith("runs/net1-vae-z2-s4-")

    test = {"negative_elbo": 150.0, "reconstruction": 140.0, "kl": 10.0}
    finished = types.SimpleNamespace(path="runs/x", metrics={"test": test})
    assert result_line(finished) == (
        "runs/x: test negative ELBO 150.00 nats (reconstruction 140.00, KL 10.00)"
    )
