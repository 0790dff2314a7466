"""Options shared by several commands, defined once; flags generated from the settings'
declarations (``mnist_vae.config.option``): the run's records (``ModelConfig``,
``TrainConfig``), the strategies' own options dataclasses and the benchmarks' configs.
``mnist_vae.settings`` makes each declaration a plain-data spec (``declared_spec``);
``declared_option`` makes the spec a Click option."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from mnist_vae.errors import UsageError
from mnist_vae.settings import parse_option_pairs, record_specs


class CountOrWord(click.ParamType):
    """A positive whole number, or the word that stands for None (``--train-size all``)."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.name = f"N|{word}"

    def convert(self, value, param, ctx):
        if value is None or value == self.word:
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor {self.word!r}", param, ctx)
        if number < 1:
            self.fail(f"{number} is not a positive number", param, ctx)
        return number


class RegisteredName(click.ParamType):
    """A name from one of the registries, completed in the shell from what is registered.

    The value is checked where it is used, against the live registry (one-line errors
    with close matches). The names offered come from the index of the built-in ones
    (``mnist_vae.registry_index``) unless plugins are installed, so completing and
    ``--help`` load no Keras.
    With ``separator`` the value is a list and its last item is completed.
    """

    name = "name"

    def __init__(self, registry: str, separator: str | None = None) -> None:
        self.registry = registry
        self.separator = separator

    def names(self) -> list[str]:
        """The names to offer and list: the index's while nothing else may be registered."""
        from mnist_vae.registry_index import registered_names

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
    """``--seed`` as ``TrainConfig`` declares it, with a help text saying what the seed
    controls in that command."""
    return declared_option(record_specs()["seed"], help=help, show_default=True)


def count_option(
    name: str, default: int, help: str, *, minimum: int = 1
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An option counting images, samples or draws: a whole number from ``minimum`` to 100,000."""
    return click.option(
        name, type=click.IntRange(min=minimum, max=100_000), default=default, help=help
    )


def data_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--data`` as ``TrainConfig`` declares it."""
    return declared_option(record_specs()["data"])(command)


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


def benchmark_options(name: str, files: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """What every benchmark command takes beside its config's flags, in this order:
    ``--out`` (``out_option``), ``--overwrite``, ``--restart``, ``--data``, ``--quiet``
    and ``--debug``."""
    group = (out_option(name, files), overwrite_option, restart_option)
    group += (data_option, quiet_option, debug_option)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for declare in reversed(group):
            command = declare(command)
        return command

    return decorate


def run_benchmark_command(
    name: str,
    run: Callable[..., dict],
    config: Any,
    load: Callable[..., Any],
    *,
    out: str | None,
    overwrite: bool,
    restart: bool,
    data: str | None,
    note: str | None = None,
) -> tuple[dict, str]:
    """A benchmark command's work once its flags are checked: ``--out`` checked
    (``benchmark_out``), ``note`` said, the data loaded by ``load`` (``load_mnist``), then
    ``run(config, data, out, ...)`` with its progress on stderr. Returns its results and
    the folder they are in."""
    out = benchmark_out(name, out, overwrite=overwrite)
    if note:
        click.echo(note, err=True)

    def say(message: str) -> None:
        click.echo(message, err=True)

    mnist = load(data, report=say)
    return run(config, mnist, out, overwrite=overwrite, restart=restart, report=say), out


class RunPath(click.ParamType):
    """A run directory that exists, or ``pretrained:NAME`` (a model shipped with mnist-vae)."""

    name = "RUN"

    def convert(self, value, param, ctx):
        text = str(value)
        if text.startswith("pretrained:"):
            return text  # the name is checked where it is opened, with close matches
        if not Path(text).expanduser().is_dir():
            self.fail(
                f"{text!r} is not a run directory (nor pretrained:NAME; "
                "'mnist-vae pretrained' lists those)",
                param,
                ctx,
            )
        return text


def run_argument(command: Callable[..., Any]) -> Callable[..., Any]:
    """RUN, a run directory or pretrained:NAME (``load_run`` says what is wrong with it)."""
    return click.argument("run", type=click.Path(file_okay=False, path_type=str))(command)


def record_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every ``ModelConfig``/``TrainConfig`` setting as a flag, from its declaration."""
    return config_options(list(record_specs().values()))(command)


def config_options(
    specs: list[dict[str, Any]], *, hidden: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare ``specs`` (``record_specs``, ``config_flag_specs``, the index's strategy
    flags) as a command's flags, in their order; ``hidden``: names kept working but left
    out of ``--help``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(specs):
            command = declared_option(spec, hidden=spec["name"] in hidden)(command)
        return command

    return decorate


def _click_type(spec: Mapping[str, Any]) -> Any:
    kind = {"flag": bool, "int": int, "float": float, "str": str}[spec["type"]]
    none_as = spec.get("none_as")
    if isinstance(none_as, str):
        return CountOrWord(none_as)
    if spec["choices"]:  # a flag_value option's absence is its default, not a choice
        absent = spec.get("default") if spec.get("flag_value") else None
        return click.Choice([choice for choice in spec["choices"] if choice != absent])
    minimum, maximum = spec["minimum"], spec.get("maximum")
    if kind in (int, float) and (minimum is not None or maximum is not None):
        if none_as is not None and minimum is not None:
            minimum = min(minimum, none_as)  # the value standing for None is accepted too
        range_type = click.IntRange if kind is int else click.FloatRange
        return range_type(
            min=minimum,
            max=maximum,
            min_open=spec["exclusive_minimum"],
            max_open=bool(spec.get("exclusive_maximum")),
        )
    if spec.get("path") == "run":
        return RunPath()
    if spec.get("path"):
        return click.Path(exists=True, readable=True, dir_okay=True, file_okay=True)
    if spec["metavar"] == "FILE":
        return click.Path(dir_okay=False)
    return kind


def declared_option(spec: Mapping[str, Any], **overrides: Any) -> Callable[..., Any]:
    """The click option of a declared setting (``declared_spec``, ``record_specs``,
    ``config_flag_specs``): a strategy's or a benchmark's flag (default None: only the
    ones given count) or a record's."""
    name = spec["name"]
    flag = "--" + (spec.get("flag") or name).replace("_", "-")
    settings: dict[str, Any] = {"default": spec.get("default"), "help": spec["help"]}
    if spec.get("shown_default"):
        settings["show_default"] = spec["shown_default"]
    settings.update(overrides)
    if spec.get("switch"):
        return click.option(flag, name, is_flag=True, **settings)
    if spec["type"] == "flag":
        return click.option(f"{flag}/--no-{flag[2:]}", name, **settings)
    items = spec.get("items")
    if items:  # several values, collected into the record's tuple or dict
        settings.update(callback=_collected(spec), multiple=items != "list")
    if spec.get("registry"):
        return click.option(
            flag,
            name,
            cls=RegisteredOption,
            registry=spec["registry"],
            separator="," if items == "list" else None,
            **settings,
        )
    if spec.get("flag_value"):  # given plain: flag_value; left out: the default
        absent = settings["default"]

        def absent_is_default(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            return absent if value is None else value

        settings.update(
            default=None, is_flag=False, flag_value=spec["flag_value"], callback=absent_is_default
        )
    kind = str if items in ("list", "pairs") else _click_type(spec)
    return click.option(flag, name, type=kind, metavar=spec["metavar"], **settings)


def _collected(spec: Mapping[str, Any]) -> Callable[..., Any]:
    """The callback turning a flag of several values into the record's: a tuple (from a
    comma-separated list, or a repeated flag) or a dict of NAME=VALUE pairs; None when
    the flag is not given."""
    items, kind = spec["items"], spec["type"]

    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if items == "pairs":
            try:
                return parse_option_pairs(value) if value else None
            except UsageError as error:  # during parsing: shown as click shows a bad value
                raise click.UsageError(str(error), ctx) from None
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


def strategy_flag_names() -> list[str]:
    """The built-in strategies' option names, each a flag of ``train`` (from the index)."""
    from mnist_vae.registry_index import load_index

    return [spec["name"] for spec in load_index()["strategy_flags"]]


def strategy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The built-in strategies' options as flags; only the ones given reach ModelConfig.

    The flags come from the index (``mnist_vae.registry_index``), so declaring them
    loads no Keras; the values are checked by the strategy's own options class.
    """
    from mnist_vae.registry_index import load_index

    command = click.option(
        "--option",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set any strategy option by name, including a plugin strategy's; VALUE is "
        'read as JSON when it parses (0.5, true, "text"). Repeatable.',
    )(command)
    return config_options(load_index()["strategy_flags"])(command)
