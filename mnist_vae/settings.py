"""The settings' declarations (``mnist_vae.declarations.option``) as plain data, for any front
end: the CLI's flags, the index of the built-in strategies' flags, the docs.

Each setting is declared once, on its record (``ModelConfig``, ``TrainConfig``, a
strategy's options dataclass, a benchmark's config); ``declared_spec`` turns a
declaration into a spec (name, type, bounds, help, ...) that holds no Click, so a front
end builds its flags from it and a config file's values are checked against it
(``checked_value``) as the flag would check them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mnist_vae.config import CONFIG_SECTIONS, option_type
from mnist_vae.errors import ConfigError, UsageError

# What a record's declaration adds to a strategy option's (see mnist_vae.declarations.option).
RECORD_KEYS = (
    "maximum",
    "exclusive_maximum",
    "section",
    "flag",
    "registry",
    "none_as",
    "flag_value",
    "shown_default",
    "path",
    "repeat",
    "legacy",
    "switch",
    "argument",
)


def declared_spec(name: str, annotation: Any, meta: Mapping[str, Any]) -> dict[str, Any]:
    """A setting declared with ``option`` as plain data: what its flag is made from (the
    index keeps the strategies' this way, so ``--help`` loads no Keras). A field of
    several values adds ``items``: ``list`` (comma-separated), ``repeat`` (a repeated
    flag) or ``pairs`` (NAME=VALUE); a list's choices are its items', said in the help."""
    kind, items = _flag_type(annotation)
    help_text = meta.get("help", "")
    if items and meta.get("choices"):  # a list's items are checked by its record
        help_text += f" Choices: {', '.join(meta['choices'])}."
    spec = {
        "name": name,
        "type": "flag" if annotation is bool else kind.__name__,
        "choices": list(meta["choices"]) if meta.get("choices") and not items else None,
        "minimum": meta.get("minimum"),
        "exclusive_minimum": bool(meta.get("exclusive_minimum")),
        "metavar": meta.get("metavar"),
        "help": help_text,
    }
    if items:
        spec["items"] = "repeat" if meta.get("repeat") else items
    return spec


def _flag_type(annotation: Any) -> tuple[type, str | None]:
    """A flag's value type, and ``list`` or ``pairs`` when the field holds several:
    ``tuple[int, ...]``, ``dict[str, Any]``."""
    if typing.get_origin(annotation) is tuple:
        return option_type(typing.get_args(annotation)[0])[0], "list"
    if typing.get_origin(annotation) is dict:
        return str, "pairs"
    return option_type(annotation)[0], None


def _declared_fields(kind: type) -> list[tuple[dataclasses.Field, dict[str, Any]]]:
    """The fields of a settings record declared with ``option``, each with its flag's spec."""
    hints = typing.get_type_hints(kind)
    return [
        (
            spec,
            {
                **declared_spec(spec.name, hints[spec.name], spec.metadata),
                **{key: spec.metadata.get(key) for key in RECORD_KEYS},
            },
        )
        for spec in dataclasses.fields(kind)
        if "help" in spec.metadata
    ]


def _field_default(spec: dataclasses.Field) -> Any:
    """A field's default (a fresh one where it has a factory); None for a required field."""
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return None if spec.default is dataclasses.MISSING else spec.default


@functools.cache
def record_specs() -> dict[str, dict[str, Any]]:
    """Each ``ModelConfig``/``TrainConfig`` setting ``train`` sets, by field name: its
    declaration as plain data, with its record (``model``/``train``) and default."""
    specs = {}
    for record, kind in CONFIG_SECTIONS.items():
        for spec, flag in _declared_fields(kind):
            specs[spec.name] = {**flag, "record": record, "default": _field_default(spec)}
    return specs


def request_specs(request_type: type) -> list[dict[str, Any]]:
    """A command's flags and arguments from its request record (``SampleRequest``,
    ``EvaluationRequest``, ...), in field order: each with the record's default (``--help``
    shows it), and required where the field has none."""
    return [
        {
            **flag,
            "default": _field_default(spec),
            "required": spec.default is dataclasses.MISSING
            and spec.default_factory is dataclasses.MISSING,
        }
        for spec, flag in _declared_fields(request_type)
    ]


def taken_record(record_type: type, values: dict[str, Any]) -> Any:
    """The ``record_type`` of its fields among a command's ``values``, which lose them
    (the rest is the command's other settings)."""
    names = [spec.name for spec in dataclasses.fields(record_type)]
    return record_type(**{name: values.pop(name) for name in names})


def record_sections() -> dict[str, list[str]]:
    """The records' settings by ``--help`` section, in the records' order."""
    sections: dict[str, list[str]] = {}
    for name, spec in record_specs().items():
        sections.setdefault(spec["section"], []).append(name)
    return sections


def config_fields() -> dict[str, tuple[str, str]]:
    """Each record setting's option -> its place in a config file (``model``/``train``,
    the field): the option is named as the field, its flag may differ (--lr)."""
    return {name: (spec["record"], name) for name, spec in record_specs().items()}


def config_flag_specs(config_type: type) -> list[dict[str, Any]]:
    """Another settings record's flags (the benchmarks' configs), one per field declared
    with ``option``, in field order. As the strategies' flags, each defaults to None,
    "not given", so the record's own default applies (``given_settings``), and the help
    says that default; a bool field is a plain switch (``--quick``)."""
    specs = []
    for spec, flag in _declared_fields(config_type):
        if flag["type"] == "flag":
            flag["switch"] = True
        else:
            flag["help"] += _default_note(_field_default(spec))
        specs.append(flag)
    return specs


def given_settings(config_type: type, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``config_type`` the user set (not None) among a command's ``values``."""
    names = {spec.name for spec in dataclasses.fields(config_type)}
    return {name: value for name, value in values.items() if name in names and value is not None}


def builtin_strategy_options() -> dict[str, list[tuple[str, dataclasses.Field, type]]]:
    """Each option name of the built-in strategies -> [(strategy, field, options class)].

    Read from the live registry (so the zoo, and Keras, load): the source of
    ``strategy_flag_specs``, which the index keeps for ``--help`` and completion.
    Plugins' strategies keep ``--option NAME=VALUE``.
    """
    from mnist_vae.registry import strategies

    found: dict[str, list] = {}
    for name in strategies.builtin_names():
        options_type = getattr(strategies.get(name), "options", None)
        if options_type is None:
            continue
        for spec in dataclasses.fields(options_type):
            found.setdefault(spec.name, []).append((name, spec, options_type))
    return found


def strategy_flag_specs() -> list[dict[str, Any]]:
    """The built-in strategies' flags as plain data (name, type, bounds, help), from their
    options dataclasses, sorted by name: what ``mnist_vae/zoo/index.json`` keeps."""
    return [
        _strategy_flag_spec(name, owners)
        for name, owners in sorted(builtin_strategy_options().items())
    ]


def _strategy_flag_spec(option_name: str, owners: list) -> dict[str, Any]:
    """One flag for ``option_name``, shared by the strategies that declare it."""
    from mnist_vae.config import needs_text

    _, spec, options_type = owners[0]
    annotation = typing.get_type_hints(options_type)[option_name]
    flag = declared_spec(option_name, annotation, spec.metadata)
    default, meta = spec.default, spec.metadata
    tags = "/".join(owner for owner, _, _ in owners)
    help_text = f"[{tags}] {flag['help']}"
    if meta.get("needs") is not None:  # giving it without that is refused
        help_text += f" Only with {needs_text(options_type, meta['needs'])}."
    defaults = {owner: _shown(owner_spec.default) for owner, owner_spec, _ in owners}
    if len(set(defaults.values())) > 1:  # strategies that share an option may differ here
        help_text += " [default: " + ", ".join(f"{o} {d}" for o, d in defaults.items()) + "]"
    else:
        help_text += _default_note(default)
    if annotation is bool:
        no_flag = "no-" + option_name.replace("_", "-")
        help_text += f" [default: {option_name.replace('_', '-') if default else no_flag}]"
    return {**flag, "help": help_text}


def _default_note(default: Any) -> str:
    """`` [default: X]`` for a flag whose default None stands for the record's."""
    if default in (None, (), {}) or isinstance(default, bool):
        return ""
    return f" [default: {_shown(default)}]"


def _shown(value: Any) -> str:
    """A default as typed: ``0.001``, ``0.2,0.5,1.0``."""
    if isinstance(value, tuple):
        return ",".join(_shown(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_option_pairs(pairs: Iterable[str], flag: str = "--option") -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs; values are JSON literals when they parse, else text.

    A pair without NAME= is a ``UsageError`` worded as the CLI says a bad flag value.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if sep and name.strip().replace("-", "_").isidentifier() and "-" in name:
            raise UsageError(
                f"Invalid value for '{flag}': {pair!r}: option names are written with "
                f"underscores ({name.strip().replace('-', '_')}={text})"
            )
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"Invalid value for '{flag}': {pair!r} is not NAME=VALUE")
        try:
            options[name.strip()] = json.loads(text)
        except ValueError:
            options[name.strip()] = text
    return options


def given_strategy_options(values: Mapping[str, Any], flag_names: Iterable[str]) -> dict[str, Any]:
    """The strategy options the user set: ``values["option"]`` (``--option`` pairs), then
    the options among ``flag_names`` (the strategies' own flags) given a value."""
    options = parse_option_pairs(values.get("option") or ())
    options.update({name: values[name] for name in flag_names if values.get(name) is not None})
    return options


def flag_of(spec: Mapping[str, Any]) -> str:
    """A declared setting's flag as typed: ``--lr`` for ``learning_rate``."""
    return "--" + (spec.get("flag") or spec["name"]).replace("_", "-")


def value_kinds(spec: Mapping[str, Any]) -> tuple[type, ...]:
    """The JSON/TOML types a config file may give for a setting: its flag's type."""
    if spec.get("items"):
        return (str,)  # several values: the flag's text
    return {"flag": (bool,), "int": (int,), "float": (int, float)}.get(spec["type"], (str,))


def checked_value(spec: Mapping[str, Any], value: Any) -> Any:
    """``value`` (not None, of a type ``value_kinds`` allows) checked and converted as the
    flag of ``spec`` checks what is typed: range, choices, the word for None, an existing
    path. A ``ConfigError`` says what is wrong in the flag's own words."""
    none_as = spec.get("none_as")
    if isinstance(none_as, str):  # a whole number, or the word for None
        if value == none_as:
            return None
        if int(value) < 1:
            raise ConfigError(f"{int(value)} is not a positive number")
        return int(value)
    if spec["choices"]:
        return _checked_choice(spec, value)
    if spec["type"] in ("int", "float"):
        return _checked_number(spec, value)
    if spec.get("path"):
        _check_path(spec, str(value))
    elif spec["metavar"] == "FILE" and Path(value).is_dir():
        raise ConfigError(f"File {value!r} is a directory.")
    return value


def _checked_choice(spec: Mapping[str, Any], value: Any) -> Any:
    """One of the flag's choices (a flag_value option's absence is its default, not one)."""
    absent = spec.get("default") if spec.get("flag_value") else None
    choices = [choice for choice in spec["choices"] if choice != absent]
    if value in choices:
        return value
    shown = ", ".join(map(repr, choices))
    if len(choices) == 1:
        raise ConfigError(f"{value!r} is not {shown}.")
    raise ConfigError(f"{value!r} is not one of {shown}.")


def _checked_number(spec: Mapping[str, Any], value: Any) -> Any:
    """A number of the flag's type in its range (the value standing for None included)."""
    number = int(value) if spec["type"] == "int" else float(value)
    minimum, maximum = spec["minimum"], spec.get("maximum")
    none_as = spec.get("none_as")
    if none_as is not None and minimum is not None:
        minimum = min(minimum, none_as)
    low_open, high_open = spec["exclusive_minimum"], bool(spec.get("exclusive_maximum"))
    low = minimum is not None and (number <= minimum if low_open else number < minimum)
    high = maximum is not None and (number >= maximum if high_open else number > maximum)
    if low or high:
        raise ConfigError(f"{number} is not in the range {_range(minimum, maximum, spec)}.")
    return number


def _range(minimum: Any, maximum: Any, spec: Mapping[str, Any]) -> str:
    """A flag's range as its help says it: ``x>=1``, ``0<=x<=4096``, ``x>0``."""
    low = "<" if spec["exclusive_minimum"] else "<="
    high = "<" if spec.get("exclusive_maximum") else "<="
    if minimum is None:
        return f"x{high}{maximum}"
    if maximum is None:
        return f"x{'>' if spec['exclusive_minimum'] else '>='}{minimum}"
    return f"{minimum}{low}x{high}{maximum}"


def run_path_problem(text: str) -> str | None:
    """Why ``text`` names no run, or None: a run directory, a run still in training (its
    stage is there; what reads it says how far it is), or ``pretrained:NAME`` (the name
    is checked where it is opened, with close matches)."""
    from mnist_vae.io import training_stage_path

    path = Path(text).expanduser()
    if text.startswith("pretrained:") or path.is_dir() or training_stage_path(path).is_dir():
        return None
    return (
        f"{text!r} is not a run directory (nor pretrained:NAME; 'mnist-vae pretrained' lists those)"
    )


def _check_path(spec: Mapping[str, Any], text: str) -> None:
    """An existing, readable file or folder; ``path="run"``: ``run_path_problem``'s."""
    if spec["path"] == "run":
        problem = run_path_problem(text)
        if problem is not None:
            raise ConfigError(problem)
        return
    if not os.path.exists(text):
        raise ConfigError(f"Path {text!r} does not exist.")
    if not os.access(text, os.R_OK):
        raise ConfigError(f"Path {text!r} is not readable.")
