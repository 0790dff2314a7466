"""Options shared by several commands, defined once; strategy flags generated from the
strategies' own options dataclasses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mnist_vae.config import TrainConfig

DEFAULTS = TrainConfig()


class RegisteredName(click.ParamType):
    """A name from one of the registries, completed in the shell from what is registered.

    The value is checked where it is used, against the live registry (one-line errors
    with close matches). The names offered come from the index of the built-in ones
    (``mnist_vae.cli.builtin_index``) unless plugins are installed, so completing and
    ``--help`` load no Keras.
    With ``separator`` the value is a list and its last item is completed.
    """

    name = "name"

    def __init__(self, registry: str, separator: str | None = None) -> None:
        self.registry = registry
        self.separator = separator

    def names(self) -> list[str]:
        """The names to offer and list: the index's while nothing else may be registered."""
        from mnist_vae.cli.builtin_index import registered_names

        return registered_names(self.registry)

    def shell_complete(self, ctx, param, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        done, last = "", incomplete
        if self.separator and self.separator in incomplete:
            head, _, last = incomplete.rpartition(self.separator)
            done = head + self.separator
        return [CompletionItem(done + name) for name in self.names() if name.startswith(last)]


class RegisteredOption(click.Option):
    """An option taking registered names: completed in the shell, listed in ``--help``."""

    def __init__(self, *args, registry: str, separator: str | None = None, **kwargs) -> None:
        kwargs.setdefault("type", RegisteredName(registry, separator))
        kwargs.setdefault("metavar", "NAMES" if separator else "NAME")
        super().__init__(*args, **kwargs)

    def get_help_record(self, ctx: click.Context):
        given = self.help or ""
        choices = f"Choices: {', '.join(self.type.names())}."
        text, bracket, extra = given.rpartition(" [")  # keep a hand-written [default: ...] last
        if not (bracket and given.endswith("]")):
            text, extra = given, ""
        self.help = f"{text} {choices}".strip() + (f" [{extra}" if extra else "")
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = given or None


def debug_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--debug", is_flag=True, help="Show full tracebacks instead of one-line errors."
    )(command)


QUIET_HELP = "No progress: no bars, and no progress lines in a log."


def quiet_option(command: Callable[..., Any] | None = None, *, help: str = QUIET_HELP):
    """``--quiet``; parsing it sets how the command's progress shows (``mnist_vae.progress``:
    a live bar on a terminal, plain lines otherwise, nothing with --quiet) until it ends.

    Use as ``@quiet_option`` or ``@quiet_option(help="...")``.
    """

    def configure(ctx: click.Context, param: click.Parameter, quiet: bool) -> bool:
        import sys

        from mnist_vae import progress

        previous = progress.configure(quiet=quiet, stream=sys.stderr)
        ctx.call_on_close(lambda: progress.restore(previous))
        return quiet

    decorate = click.option("--quiet", is_flag=True, callback=configure, help=help)
    return decorate if command is None else decorate(command)


def seed_option(
    help: str = "Random seed.",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--seed``, with a help text saying what the seed controls in that command."""
    return click.option(
        "--seed",
        type=click.IntRange(0, 2**32 - 1),
        default=DEFAULTS.seed,
        show_default=True,
        help=help,
    )


def data_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data",
        type=click.Path(exists=True, readable=True, dir_okay=True, file_okay=True),
        default=None,
        help="A Keras-layout .npz (x_train, y_train, x_test, y_test) or a directory of "
        "MNIST IDX files (.gz or raw), with its class names if it names them (classes.txt, "
        "docs/data.md). Default: $MNIST_VAE_DATA, the local cache, TFDS, PyPI.",
    )(command)


def overwrite_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace an earlier result (only once the new one is complete), and only if "
        "every file in it is one mnist-vae wrote: a folder holding anything else is never "
        "replaced.",
    )(command)


def restart_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--restart",
        is_flag=True,
        help="Discard an interrupted benchmark of --out and start afresh (by default the "
        "same command continues it at the step it reached).",
    )(command)


def out_option(name: str, files: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A benchmark's ``--out``: the folder for ``files``, by default ``runs/NAME-TIME``."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False),
        default=None,
        help=f"Folder for {files}. [default: runs/{name}-TIME]",
    )


def benchmark_out(name: str, out: str | None, *, overwrite: bool) -> str:
    """``out``, or ``runs/NAME-TIME``, checked writable before any work."""
    import time

    from mnist_vae.io import check_output_dir

    out = out or f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_output_dir(out, overwrite=overwrite)
    return out


class RunPath(click.ParamType):
    """A run directory that exists, or ``pretrained:NAME`` (a model shipped with mnist-vae)."""

    name = "RUN"

    def convert(self, value, param, ctx):
        text = str(value)
        if text.startswith("pretrained:"):
            return text  # the name is checked where it is opened, with close matches
        if not Path(text).expanduser().is_dir():
            self.fail(f"{text!r} is not a run directory (nor pretrained:NAME; "
                      "'mnist-vae pretrained' lists those)", param, ctx)  # fmt: skip
        return text


def run_argument(command: Callable[..., Any]) -> Callable[..., Any]:
    """RUN, a run directory or pretrained:NAME (``load_run`` says what is wrong with it)."""
    return click.argument("run", type=click.Path(file_okay=False, path_type=str))(command)


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
    """One flag for ``option_name``, shared by the strategies that declare it; with the
    owner None, a field of a settings record (``config_flag_specs``)."""
    import typing

    _, spec, options_type = owners[0]
    annotation = typing.get_type_hints(options_type)[option_name]
    kind, items = _flag_type(annotation)
    tags = "/".join(owner for owner, _, _ in owners if owner)
    default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
    meta = spec.metadata
    cli = meta.get("cli") or {}
    help_text = f"[{tags}] {meta.get('help', '')}" if tags else meta.get("help", "")
    if meta.get("needs") is not None:  # giving it without that is refused
        from mnist_vae.config import needs_text

        help_text += f" Only with {needs_text(options_type, meta['needs'])}."
    if items == "list" and meta.get("choices"):  # a list's items are checked by its record
        help_text += f" Choices: {', '.join(meta['choices'])}."
    defaults = {owner: _shown(owner_spec.default) for owner, owner_spec, _ in owners}
    if tags and len(set(defaults.values())) > 1:  # strategies that share an option may differ
        help_text += " [default: " + ", ".join(f"{o} {d}" for o, d in defaults.items()) + "]"
    elif default not in (None, (), {}) and not isinstance(default, bool):
        help_text += f" [default: {_shown(default)}]"
    if annotation is bool and tags:
        no_flag = "no-" + option_name.replace("_", "-")
        help_text += f" [default: {option_name.replace('_', '-') if default else no_flag}]"
    flag_spec = {
        "name": option_name,
        "type": "flag" if annotation is bool else kind.__name__,
        "choices": list(meta["choices"]) if meta.get("choices") and not items else None,
        "minimum": meta.get("minimum"),
        "exclusive_minimum": bool(meta.get("exclusive_minimum")),
        "metavar": meta.get("metavar"),
        "help": help_text,
    }
    extension = {"flag": cli.get("flag"), "registry": cli.get("registry"),
                 "maximum": cli.get("maximum"), "run": cli.get("path") == "run",
                 "items": "repeat" if cli.get("repeat") else items,
                 "switch": annotation is bool and not tags}  # fmt: skip
    return {**flag_spec, **{key: value for key, value in extension.items() if value}}


def _flag_type(annotation: Any) -> tuple[type, str | None]:
    """A flag's value type, and ``list`` (comma-separated) or ``pairs`` (NAME=VALUE) when
    the field holds several: ``tuple[int, ...]``, ``dict[str, Any]``."""
    import typing

    from mnist_vae.config import option_type

    if typing.get_origin(annotation) is tuple:
        return option_type(typing.get_args(annotation)[0])[0], "list"
    if typing.get_origin(annotation) is dict:
        return str, "pairs"
    return option_type(annotation)[0], None


def config_flag_specs(config_type: type) -> list[dict[str, Any]]:
    """A settings record's flags, one per field declared with ``option`` (in field order):
    the same specs, and so the same flags, as the strategies' options get."""
    return [
        _strategy_flag_spec(spec.name, [(None, spec, config_type)])
        for spec in dataclasses.fields(config_type)
        if "help" in spec.metadata
    ]


def config_options(
    specs: list[dict[str, Any]], *, hidden: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare ``specs`` (``config_flag_specs``) as a command's flags, in their order.

    Each defaults to None, "not given", so the record's own default applies
    (``given_settings``); ``hidden``: names kept working but left out of ``--help``.
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(specs):
            command = _strategy_flag(spec, hidden=spec["name"] in hidden)(command)
        return command

    return decorate


def given_settings(config_type: type, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``config_type`` the user set (not None) among a command's ``values``."""
    names = {spec.name for spec in dataclasses.fields(config_type)}
    return {name: value for name, value in values.items() if name in names and value is not None}


def _click_type(spec: dict[str, Any]) -> Any:
    kind = {"bool": bool, "int": int, "float": float, "str": str}[spec["type"]]
    if spec.get("run"):
        return RunPath()
    if spec["choices"]:
        return click.Choice(spec["choices"])
    if kind in (int, float) and spec["minimum"] is not None:
        range_type = click.IntRange if kind is int else click.FloatRange
        extra = {"min_open": True} if spec["exclusive_minimum"] else {}
        return range_type(min=spec["minimum"], max=spec.get("maximum"), **extra)
    if spec["metavar"] == "FILE":
        return click.Path(dir_okay=False)
    return kind


def _strategy_flag(
    spec: dict[str, Any], *, hidden: bool = False
) -> Callable[[Callable[..., Any]], Any]:
    """The click option of one flag of ``strategy_flag_specs`` (or ``config_flag_specs``)."""
    name = spec["name"]
    flag = "--" + spec.get("flag", name).replace("_", "-")
    if spec.get("switch"):
        return click.option(flag, name, is_flag=True, default=None, help=spec["help"],
                            hidden=hidden)  # fmt: skip
    if spec["type"] == "flag":
        no_flag = "--no-" + name.replace("_", "-")
        return click.option(f"{flag}/{no_flag}", name, default=None, help=spec["help"],
                            hidden=hidden)  # fmt: skip
    settings: dict[str, Any] = {"default": None, "help": spec["help"], "hidden": hidden}
    if spec["metavar"]:
        settings["metavar"] = spec["metavar"]
    items = spec.get("items")
    if items:
        settings["callback"] = _collected(spec)
        settings["multiple"] = items != "list"
    if spec.get("registry"):
        separator = "," if items == "list" else None
        settings.update(cls=RegisteredOption, registry=spec["registry"], separator=separator)
    elif items not in ("list", "pairs"):
        settings["type"] = _click_type(spec)
    return click.option(flag, name, **settings)


def _collected(spec: dict[str, Any]) -> Callable[..., Any]:
    """The callback turning a flag of several values into the record's: a tuple (from a
    comma-separated list, or a repeated flag) or a dict of NAME=VALUE pairs; None when
    the flag is not given."""
    items, kind = spec["items"], spec["type"]

    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if items == "pairs":
            return parse_option_pairs(value) if value else None
        if items == "repeat":
            return tuple(value) if value else None
        if value is None:
            return None
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if kind == "str":
            return tuple(part.replace("-", "_") for part in parts)  # class-mean: class_mean
        try:
            return tuple({"int": int, "float": float}[kind](part) for part in parts)
        except ValueError:
            what = "whole numbers" if kind == "int" else "numbers"
            raise click.BadParameter(f"{value!r} is not a comma-separated list of {what}") from None

    return convert


def _shown(value: Any) -> str:
    """A default as typed: ``0.001``, ``0.2,0.5,1.0``."""
    if isinstance(value, tuple):
        return ",".join(_shown(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def strategy_flag_names() -> list[str]:
    """The built-in strategies' option names, each a flag of ``train`` (from the index)."""
    from mnist_vae.cli.builtin_index import load_index

    return [spec["name"] for spec in load_index()["strategy_flags"]]


def strategy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The built-in strategies' options as flags; only the ones given reach ModelConfig.

    The flags come from the index (``mnist_vae.cli.builtin_index``), so declaring them
    loads no Keras; the values are checked by the strategy's own options class.
    """
    from mnist_vae.cli.builtin_index import load_index

    declarations = [_strategy_flag(spec) for spec in load_index()["strategy_flags"]]
    declarations.append(
        click.option(
            "--option",
            multiple=True,
            metavar="NAME=VALUE",
            help="Set any strategy option by name, including a plugin strategy's; VALUE is "
            'read as JSON when it parses (0.5, true, "text"). Repeatable.',
        )
    )
    for declaration in reversed(declarations):
        command = declaration(command)
    return command


def parse_option_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs; values are JSON literals when they parse, else text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="'--option'")
        try:
            options[name.strip()] = json.loads(text)
        except ValueError:
            options[name.strip()] = text
    return options


def given_strategy_options(values: dict[str, Any]) -> dict[str, Any]:
    """The strategy options the user set, from their own flags or from ``--option``."""
    options = parse_option_pairs(values.get("option") or ())
    options.update(
        {name: values[name] for name in strategy_flag_names() if values.get(name) is not None}
    )
    return options
