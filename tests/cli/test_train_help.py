"""``mnist-vae train --help``: its options in sections, none left out."""

from __future__ import annotations

import click
from click.testing import CliRunner

from mnist_vae.cli.help_sections import UNSECTIONED
from mnist_vae.cli.main import cli
from mnist_vae.cli.train import help_sections, train


def test_every_train_option_is_in_a_section():
    assert train.unsectioned(click.Context(train)) == []
    listed = [name for names in help_sections().values() for name in names]
    assert len(listed) == len(set(listed)), "an option listed in two sections"


def test_train_help_shows_the_sections_in_order():
    result = CliRunner().invoke(cli, ["train", "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    titles = [line[:-1] for line in result.output.splitlines()
              if line.endswith(":") and not line.startswith(" ")]  # fmt: skip
    assert titles == list(help_sections())
    assert UNSECTIONED not in result.output and "Options:" not in result.output
    model = result.output.index("Model:")
    assert model < result.output.index("--latent-dim") < result.output.index("Training:")
    assert result.output.index("--tensorboard") > result.output.index("Monitoring:")


def test_an_option_left_out_of_the_sections_is_still_shown(monkeypatch):
    sections = {title: [name for name in names if name != "beta"]
                for title, names in help_sections().items()}  # fmt: skip
    monkeypatch.setattr(train, "help_sections", lambda: sections)
    assert train.unsectioned(click.Context(train)) == ["beta"]
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert f"{UNSECTIONED}:\n  --beta" in result.output
