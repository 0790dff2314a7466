"""Shell completion of registered names, and the names listed in ``--help``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mnist_vae import registry as registry_module
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
    [
        (["train"], "--arch", architectures),
        (["train"], "--strategy", strategies),
        (["sample"], "--sampler", samplers),
        (["benchmark", "nll"], "--strategies", strategies),
    ],
)
def test_help_lists_the_registered_choices(command, option, registry):
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=400)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith(option))
    assert f"Choices: {', '.join(registry.names())}." in line


def test_a_name_only_the_index_lists_is_offered_but_refused_when_run(monkeypatch):
    from mnist_vae import registry_index

    stale = json.loads(json.dumps(registry_index.load_index()))
    stale["registries"]["strategies"].append("retired_vae")
    monkeypatch.setattr(registry_index, "load_index", lambda: stale)
    monkeypatch.setattr(registry_module, "is_loaded", lambda: False)
    monkeypatch.setattr(registry_module, "plugins_installed", lambda: False)
    assert complete("train --strategy ret") == ["retired_vae"]
    result = CliRunner().invoke(cli, ["train", "--strategy", "retired_vae", "--epochs", "1"])
    assert result.exit_code != 0
    assert "unknown strategy 'retired_vae'" in result.output
