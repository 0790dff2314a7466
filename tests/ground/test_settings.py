"""The settings' declarations as plain data (mnist_vae/settings.py): the specs a front end
builds its flags from, and a config file's values checked against them as a flag checks
what is typed."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from mnist_vae.config import ModelConfig, StrategyOptions, TrainConfig
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.settings import (
    builtin_strategy_options,
    checked_value,
    config_fields,
    flag_of,
    given_strategy_options,
    parse_option_pairs,
    record_specs,
    value_kinds,
)


def conflicts(owners_by_name: dict[str, list]) -> list[str]:
    """Options that two strategies declare with a different type or help text."""
    found = []
    for name, owners in owners_by_name.items():
        kinds = {str(typing.get_type_hints(kind)[name]) for _, _, kind in owners}
        helps = {spec.metadata.get("help") for _, spec, _ in owners}
        if len(kinds) > 1 or len(helps) > 1:
            found.append(f"{name}: {', '.join(owner for owner, _, _ in owners)}")
    return found


def test_built_in_strategies_agree_on_every_shared_option_name():
    assert conflicts(builtin_strategy_options()) == []


def test_a_shared_option_with_another_type_is_a_conflict():
    @dataclasses.dataclass(frozen=True)
    class Whole(StrategyOptions):
        gamma: int = option(1, "Weight of the feature reconstruction in the decoder's loss.")

    owners = builtin_strategy_options()
    owners["gamma"] = [*owners["gamma"], ("other", dataclasses.fields(Whole)[0], Whole)]
    assert conflicts(owners) == ["gamma: vaegan, other"]


def test_every_config_field_but_the_options_has_one_setting():
    fields = {
        (section, spec.name)
        for section, kind in (("model", ModelConfig), ("train", TrainConfig))
        for spec in dataclasses.fields(kind)
    }
    mapped = list(config_fields().values())
    assert len(mapped) == len(set(mapped))
    assert set(mapped) | {("model", "options")} == fields


def test_a_settings_flag_is_its_declared_one():
    specs = record_specs()
    assert flag_of(specs["learning_rate"]) == "--lr"
    assert flag_of(specs["checkpoint_steps"]) == "--checkpoint-every-steps"
    assert flag_of(specs["latent_dim"]) == "--latent-dim"
    assert [value_kinds(specs[name]) for name in ("figures", "epochs", "beta", "data")] == [
        (bool,),
        (int,),
        (int, float),
        (str,),
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("epochs", 3, 3),
        ("beta", 2, 2.0),  # a number flag's value is a float
        ("seed", 2**32 - 1, 2**32 - 1),
        ("precision", "auto", "auto"),
        ("binarize", "dynamic", "dynamic"),
        ("data", "pyproject.toml", "pyproject.toml"),
        ("train_size", 5, 5),
    ],
)
def test_a_value_the_flag_takes_is_taken(name, value, expected, monkeypatch):
    from tests.helpers import ROOT

    monkeypatch.chdir(ROOT)
    checked = checked_value(record_specs()[name], value)
    assert checked == expected and type(checked) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("seed", -1, "-1 is not in the range 0<=x<=4294967295."),
        ("latent_dim", 5000, "5000 is not in the range 1<=x<=4096."),
        ("learning_rate", 0, "0.0 is not in the range x>0."),
        ("adam_beta1", 1, "1.0 is not in the range 0<=x<1."),
        ("checkpoint_steps", -5, "-5 is not in the range x>=0."),
        ("train_size", 0, "0 is not a positive number"),
        ("precision", "float16", "'float16' is not one of 'float32', 'mixed_bfloat16', 'auto'."),
        ("binarize", "none!", "'none!' is not one of 'threshold', 'dynamic'."),
        ("data", "no/such.npz", "Path 'no/such.npz' does not exist."),
    ],
)
def test_a_value_the_flag_refuses_says_so_in_the_flags_words(name, value, message):
    with pytest.raises(ConfigError) as caught:
        checked_value(record_specs()[name], value)
    assert str(caught.value) == message


def test_option_pairs_are_json_where_they_parse():
    assert parse_option_pairs(["a=1", "b=true", 'c="x"', "d=text", " e =0.5"]) == {
        "a": 1,
        "b": True,
        "c": "x",
        "d": "text",
        "e": 0.5,
    }


@pytest.mark.parametrize("pair", ["gamma", "=1", "not a name=1"])
def test_a_pair_without_a_name_is_a_usage_error(pair):
    with pytest.raises(UsageError) as caught:
        parse_option_pairs([pair])
    assert str(caught.value) == f"Invalid value for '--option': {pair!r} is not NAME=VALUE"


def test_given_strategy_options_join_pairs_and_flags_given():
    values = {"option": ("free_bits=0.5", "gamma=1"), "gamma": 2.0, "margin": None}
    assert given_strategy_options(values, ["gamma", "margin"]) == {"free_bits": 0.5, "gamma": 2.0}
