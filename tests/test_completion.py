"""Shell completion of registered names, and the names listed in ``--help``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.registry import architectures, samplers, strategies


def complete(words: str) -> list[str]:
    """What bash completion offers after ``mnist-vae WORDS`` (the last word is partial)."""
    parts = words.split(" ")
    env = {
        "_MNIST_VAE_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(["mnist-vae", *parts]),
        "COMP_CWORD": str(len(parts)),
    }
    result = CliRunner().invoke(cli, [], prog_name="mnist-vae", env=env)
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.output.splitlines()]


def test_registered_names_complete_from_the_registry():
    assert complete("train --arch ") == architectures.names()
    assert complete("train --arch net") == [n for n in architectures.names() if n.startswith("net")]
    assert complete("train --strategy i") == [n for n in strategies.names() if n.startswith("i")]
    assert complete("sample run --sampler ") == samplers.names()


def test_a_comma_separated_list_completes_its_last_item():
    offered = complete("benchmark nll --strategies vae,iw")
    assert offered == ["vae," + n for n in strategies.names() if n.startswith("iw")]


def test_a_plugin_registration_is_offered_too():
    with strategies.temporary(lambda *args: None, name="my_plugin_vae"):
        assert "my_plugin_vae" in complete("train --strategy my")


@pytest.mark.parametrize(
    "command, option, registry",
    [(["train"], "--arch", architectures), (["train"], "--strategy", strategies),
     (["sample"], "--sampler", samplers), (["benchmark", "nll"], "--strategies", strategies)],
)  # fmt: skip
def test_help_lists_the_registered_choices(command, option, registry):
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=400)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith(option))
    assert f"Choices: {', '.join(registry.names())}." in line
