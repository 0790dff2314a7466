"""Flags generated from the settings' declarations (``mnist_vae.declarations.option``): the
run's records (``ModelConfig``, ``TrainConfig``), the strategies' options, the benchmarks'
configs and every command's request record; ``mnist_vae.settings`` makes each a plain-data
spec (``declared_spec``), ``declared_option`` a Click option or argument. Besides them,
``--quiet`` and ``--debug``, and the tables commands print."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from mnist_vae.errors import UsageError
from mnist_vae.settings import parse_option_pairs, record_specs, request_specs, run_path_problem


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


class PlainWords:
    """A number type that refuses text that is no number in plain words (Click says "is
    not a valid integer range"): mixed into Click's range types."""

    parse: Callable[[str], Any]
    what: str

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            try:
                self.parse(value)
            except ValueError:
                self.fail(f"{value!r} is not {self.what}", param, ctx)
        return super().convert(value, param, ctx)


class WholeNumber(PlainWords, click.IntRange):
    """A whole number in the flag's range."""

    parse, what = int, "a whole number"


class FiniteNumber(PlainWords, click.FloatRange):
    """A number in the flag's range that a float32 model can use: not NaN, not infinite,
    at most ``FLOAT32_MAX`` in size (``--beta 1e300`` would overflow to inf in the
    model, and its run diverge)."""

    parse, what = float, "a number"
    FLOAT32_MAX = 3.4028234663852886e38

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number) or abs(number) > self.FLOAT32_MAX:
            self.fail(f"{value!r} is not a finite number of float32 size (to 3.4e38)", param, ctx)
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


def print_table(table: Any, *, width: int | None = None) -> None:
    """A command's table (rich) on stdout; ``width`` where the output is not a terminal (a
    log or a pipe): full numbers, not 80 squeezed columns."""
    from rich.console import Console

    console = Console()
    if width is not None and not console.is_terminal:
        console = Console(width=width)
    console.print(table)


def data_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--data`` as ``TrainConfig`` declares it."""
    return declared_option(record_specs()["data"])(command)


def benchmark_options(name: str, files: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """What every benchmark command takes beside its config's flags, in this order:
    ``BenchmarkControls``'s fields (``--out``, its help naming ``files`` and the default
    folder ``runs/NAME-TIME``; ``--overwrite``, ``--restart``, ``--data``), ``--quiet``
    and ``--debug``."""
    from mnist_vae.experiments.skeleton import BenchmarkControls

    out_help = f"Folder for {files}. [default: runs/{name}-TIME]"
    specs = [
        {**spec, "help": out_help} if spec["name"] == "out" else spec
        for spec in request_specs(BenchmarkControls)
    ]
    group = (config_options(specs), quiet_option, debug_option)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for declare in reversed(group):
            command = declare(command)
        return command

    return decorate


class RunPath(click.ParamType):
    """A run directory that exists, a run still in training, or ``pretrained:NAME`` (a
    model shipped with mnist-vae)."""

    name = "RUN"

    def convert(self, value, param, ctx):
        text = str(value)
        problem = run_path_problem(text)
        if problem is not None:
            self.fail(problem, param, ctx)
        return text


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
            hide = {"hidden": True} if spec["name"] in hidden else {}
            command = declared_option(spec, **hide)(command)
        return command

    return decorate


def request_options(request_type: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command's arguments and flags: its request record's fields (``request_specs``),
    each declared there once; the command builds the request from them."""
    return config_options(request_specs(request_type))


def _click_type(spec: Mapping[str, Any]) -> Any:
    kind = {"flag": bool, "int": int, "float": float, "str": str}[spec["type"]]
    none_as = spec.get("none_as")
    if isinstance(none_as, str):
        return CountOrWord(none_as)
    if spec["choices"]:  # a flag_value option's absence is its default, not a choice
        absent = spec.get("default") if spec.get("flag_value") else None
        return click.Choice([choice for choice in spec["choices"] if choice != absent])
    minimum, maximum = spec["minimum"], spec.get("maximum")
    if kind is float or (kind is int and (minimum is not None or maximum is not None)):
        if none_as is not None and minimum is not None:
            minimum = min(minimum, none_as)  # the value standing for None is accepted too
        range_type = WholeNumber if kind is int else FiniteNumber
        return range_type(
            min=minimum,
            max=maximum,
            min_open=spec["exclusive_minimum"],
            max_open=bool(spec.get("exclusive_maximum")),
        )
    if spec.get("path") == "run":
        return RunPath()
    if spec.get("path"):
        return _path_type(spec["path"])
    if spec["metavar"] == "FILE":
        return click.Path(dir_okay=False)
    return kind


def _path_type(kind: bool | str) -> click.Path:
    """``option(path=...)``'s kind as Click checks it: True an existing file or folder; a
    ``folder`` or ``file`` (to write), or an ``existing folder`` or ``existing file``."""
    if kind is True:
        return click.Path(exists=True, readable=True, dir_okay=True, file_okay=True)
    return click.Path(
        exists=kind.startswith("existing"),
        file_okay=not kind.endswith("folder"),
        dir_okay=not kind.endswith("file"),
    )


def _declared_argument(spec: Mapping[str, Any]) -> Callable[..., Any]:
    """A command's positional argument (``option(argument=True)``): one value, or any
    number for a field of several."""
    return click.argument(
        spec["name"],
        type=_click_type(spec),
        nargs=-1 if spec.get("items") else 1,
        required=bool(spec.get("required")),
        metavar=spec["metavar"],
    )


def declared_option(spec: Mapping[str, Any], **overrides: Any) -> Callable[..., Any]:
    """The click option of a declared setting (``declared_spec``, ``record_specs``,
    ``config_flag_specs``, ``request_specs``): a strategy's or a benchmark's flag (default
    None: only the ones given count), a record's or a request's (or its argument)."""
    name = spec["name"]
    if spec.get("argument"):
        return _declared_argument(spec)
    flag = "--" + (spec.get("flag") or name).replace("_", "-")
    settings: dict[str, Any] = {"default": spec.get("default"), "help": spec["help"]}
    if spec.get("shown_default"):
        settings["show_default"] = spec["shown_default"]
    if spec.get("required"):  # no default: Click says it is missing
        settings.update(required=True)
        del settings["default"]
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
        if items == "repeat":  # not given: a request's default, a config's None
            return tuple(value) if value else spec.get("default")
        if value is None:
            return None
        parts = [part.strip() for part in value.split(",")] if value.strip() else []
        if "" in parts:  # '0,,1' is a typo for 0,1 or for 0,N,1: ask, never guess
            raise click.BadParameter(
                f"{value!r} has an empty item: separate values by single commas"
            )
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
