"""``mnist-vae train --help``: its options in sections, none left out; its settings' flags
are their records' declarations, never written a second time."""

from __future__ import annotations

import ast
import dataclasses
import typing

import click
import pytest
from click.testing import CliRunner

from mnist_vae.cli.help_sections import UNSECTIONED
from mnist_vae.cli.main import cli
from mnist_vae.cli.options import RegisteredOption
from mnist_vae.cli.train import help_sections, train
from mnist_vae.config import ModelConfig, TrainConfig
from mnist_vae.settings import config_fields
from tests.helpers import ROOT


def test_every_train_option_is_in_a_section():
    assert train.unsectioned(click.Context(train)) == []
    listed = [name for names in help_sections().values() for name in names]
    assert len(listed) == len(set(listed)), "an option listed in two sections"


def test_train_help_shows_the_sections_in_order():
    result = CliRunner().invoke(cli, ["train", "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    titles = [
        line[:-1]
        for line in result.output.splitlines()
        if line.endswith(":") and not line.startswith(" ")
    ]
    assert titles == list(help_sections())
    assert UNSECTIONED not in result.output and "Options:" not in result.output
    model = result.output.index("Model:")
    assert model < result.output.index("--latent-dim") < result.output.index("Training:")
    assert result.output.index("--tensorboard") > result.output.index("Monitoring:")


def test_an_option_left_out_of_the_sections_is_still_shown(monkeypatch):
    sections = {
        title: [name for name in names if name != "beta"]
        for title, names in help_sections().items()
    }
    monkeypatch.setattr(train, "help_sections", lambda: sections)
    assert train.unsectioned(click.Context(train)) == ["beta"]
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert f"{UNSECTIONED}:\n  --beta" in result.output


# -- each setting declared once: on its record, never again in the CLI ----------------------

CLI = ROOT / "cli"


def declared_fields() -> list[tuple[dataclasses.Field, type]]:
    """Every ModelConfig/TrainConfig field declared with ``option`` (all but options)."""
    return [
        (spec, hints[spec.name])
        for kind in (ModelConfig, TrainConfig)
        for hints in [typing.get_type_hints(kind)]
        for spec in dataclasses.fields(kind)
        if "help" in spec.metadata
    ]


def flag_of(spec: dataclasses.Field) -> str:
    return "--" + (spec.metadata["flag"] or spec.name).replace("_", "-")


def test_every_record_setting_but_the_strategy_options_is_declared():
    names = {spec.name for spec, _ in declared_fields()}
    every = {spec.name for kind in (ModelConfig, TrainConfig) for spec in dataclasses.fields(kind)}
    assert every - names == {"options"}


def test_trains_flags_are_the_records_declarations():
    params = {param.name: param for param in train.params}
    for spec, annotation in declared_fields():
        meta, param = spec.metadata, params[spec.name]
        assert param.opts[0] == flag_of(spec), spec.name
        assert param.help == meta["help"], spec.name
        default = None if spec.default is dataclasses.MISSING else spec.default
        if meta["flag_value"]:  # left out, it is the default; given plain, flag_value
            assert (param.default, param.flag_value) == (None, meta["flag_value"])
            assert param.process_value(click.Context(train), None) == default
        else:
            assert param.default == default, spec.name
        kind = param.type
        if meta["registry"]:
            assert isinstance(param, RegisteredOption) and kind.registry == meta["registry"]
        if meta["choices"]:
            assert set(kind.choices) | {default} >= set(meta["choices"]) >= set(kind.choices)
        if annotation is bool:
            assert param.is_bool_flag and param.secondary_opts == [f"--no-{flag_of(spec)[2:]}"]
        if isinstance(kind, click.types._NumberRangeBase):
            none_as = meta["none_as"]
            minimum = meta["minimum"] if none_as is None else min(meta["minimum"], none_as)
            assert (kind.min, kind.max) == (minimum, meta["maximum"]), spec.name
            assert (kind.min_open, kind.max_open) == (
                meta["exclusive_minimum"],
                meta["exclusive_maximum"],
            )
        elif meta["minimum"] is not None:  # a range the flag's type must check
            assert kind.convert(str(meta["minimum"]), None, None) == meta["minimum"]
            with pytest.raises(click.BadParameter):
                kind.convert(str(meta["minimum"] - 1), None, None)
        assert spec.name in help_sections()[meta["section"]], spec.name
    model = {spec.name for spec in dataclasses.fields(ModelConfig)}
    places = {
        spec.name: ("model" if spec.name in model else "train", spec.name)
        for spec, _ in declared_fields()
    }
    assert places == config_fields()


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
    ]


def declared_again(source: str) -> list[str]:
    """Where ``source`` declares a record's setting a second time: a click.option of its
    flag or name, or its default or one of its choices typed as a literal."""
    tree = ast.parse(source)
    flags = {flag_of(spec) for spec, _ in declared_fields()}
    names = {spec.name for spec, _ in declared_fields()}
    found = []
    for call in calls(tree, "option"):
        words = {
            part
            for arg in call.args
            if isinstance(arg, ast.Constant)
            for part in str(arg.value).split("/")
        }
        found += [f"line {call.lineno}: option {word}" for word in sorted(words & (flags | names))]
    defaults = [spec.default for spec, _ in declared_fields()]  # all but 0, 1, 2, None, flags
    values = {d for d in defaults if type(d) in (str, int, float) and d not in (0, 1, 2)}
    values |= {choice for spec, _ in declared_fields() for choice in spec.metadata["choices"] or ()}
    found += [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and type(node.value) in (str, int, float)
        and node.value in values
    ]
    return found


def test_no_setting_is_declared_again_in_train():
    """The setting would have two declarations to keep in step."""
    assert declared_again((CLI / "train.py").read_text()) == []


@pytest.mark.parametrize(
    "added",
    [
        '@click.option("--epochs", type=int)',
        '@click.option("--lr-decay", "lr_decay")',
        '@click.option("--figures/--no-figures")',
        '@click.option("--out", default=400)',
        '@click.option("--out", type=click.Choice(["zeros", "mean"]))',
    ],
)
def test_a_setting_declared_again_is_caught(added):
    source = (CLI / "train.py").read_text()
    assert declared_again(source.replace("@record_options\n", f"@record_options\n{added}\n"))


def test_no_choice_list_is_typed_again_in_the_cli():
    choices = [
        set(spec.metadata["choices"]) for spec, _ in declared_fields() if spec.metadata["choices"]
    ]
    found = set()
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            words = strings(node)
            if len(words) > 1 and any(set(words) <= known for known in choices):
                found.add((path.name, words))
    assert found == set()


def strings(node: ast.AST) -> tuple[str, ...]:
    """A list or tuple literal's strings (none if it holds anything else)."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return ()
    words = tuple(e.value for e in node.elts if isinstance(e, ast.Constant))
    return words if len(words) == len(node.elts) and all(isinstance(w, str) for w in words) else ()
