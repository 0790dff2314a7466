"""docs/cli.md, rendered from the Click commands themselves: ``make docs`` runs this script.

Each command's help text, usage line and options (in the sections its ``--help`` shows)
come from the command's own declarations, so the reference cannot fall behind them; a
test renders it again and compares. The rendering depends on no terminal width, path,
time or installed plugin: choices list the built-in registered names only.

    python docs/generate_cli_reference.py                     # print it
    python docs/generate_cli_reference.py --write docs/cli.md
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import click

from mnist_vae.cli.help_sections import SectionedCommand
from mnist_vae.cli.options import RegisteredName

TITLE = "# Command-line reference"
GUIDE = "usage.md"
HEADER = f"""{TITLE}

<!-- Generated from the commands' own declarations by `make docs`
     (python docs/generate_cli_reference.py --write docs/cli.md): do not edit by hand. -->

Every command and option of `mnist-vae`, as its `--help` gives them. How to use them,
with the details and examples, is in the guide, [{GUIDE}]({GUIDE}): config files,
TensorBoard, shell completion, the run directory, results and `--overwrite`, errors and
exit codes. Where an option takes a registered name, the names listed are the built-in
ones; installed plugins add theirs (`mnist-vae zoo` lists everything registered).
"""
# A trailing "[default: ...]" written into an option's help (defaults click cannot show:
# per strategy, per optimizer, "net1 unless ...").
WRITTEN_DEFAULT = re.compile(r"\s*\[default: ([^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)\]$")


def render(root: click.Group | None = None, name: str = "mnist-vae") -> str:
    """The reference of ``root`` (the ``mnist-vae`` group) and every command under it."""
    if root is None:
        from mnist_vae.cli.main import cli as root
    contexts = list(_walk(root, _context(root, name, None)))
    parts = [HEADER, _contents(contexts)]
    parts += [_command(ctx) for ctx in contexts]
    return "\n".join(parts).rstrip("\n") + "\n"


def anchor(command_path: str) -> str:
    """The anchor GitHub gives the heading ``## `COMMAND PATH` ``."""
    return command_path.lower().replace(" ", "-")


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    # What make_context sets up, without parsing arguments (no option callbacks run).
    return click.Context(command, info_name=name, parent=parent, **command.context_settings)


def _walk(command: click.Command, ctx: click.Context):
    """``ctx`` and the contexts of every command below it, in ``--help``'s order."""
    yield ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, _context(sub, name, ctx))


def _contents(contexts: list[click.Context]) -> str:
    rows = ["| command | what it does |", "|---|---|"]
    for ctx in contexts[1:]:
        summary = _summaries(ctx.parent)[ctx.info_name]
        rows.append(f"| [`{ctx.command_path}`](#{anchor(ctx.command_path)}) | {_text(summary)} |")
    return "\n".join(rows) + "\n"


def _summaries(ctx: click.Context) -> dict[str, str]:
    """The one-line summary of each command of the group of ``ctx``, as its help lists it."""
    group = ctx.command
    if hasattr(group, "summaries"):  # the mnist-vae group: written once, in cli/main.py
        return dict(group.summaries(ctx))
    return {
        name: group.get_command(ctx, name).get_short_help_str(limit=10_000)
        for name in group.list_commands(ctx)
    }


def _command(ctx: click.Context) -> str:
    command = ctx.command
    path = ctx.command_path
    lines = [f"## `{path}`", ""]
    help_text = _help_paragraphs(command.help or "")
    if help_text:
        lines += [help_text, ""]
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    lines += ["```", usage, "```", ""]
    if isinstance(command, click.Group):
        rows = ["| command | what it does |", "|---|---|"]
        for name, summary in _summaries(ctx).items():
            sub_path = f"{path} {name}"
            rows.append(f"| [`{name}`](#{anchor(sub_path)}) | {_text(summary)} |")
        lines += [*rows, ""]
    sections = _option_sections(command, ctx)
    titled = len(sections) > 1 or isinstance(command, SectionedCommand)
    for title, params in sections:
        if titled:
            lines += [f"### {_text(title)}", ""]
        lines += [_options_table(params, ctx), ""]
    guide = "" if ctx.parent is None else f"#{anchor(path)}"
    lines += [f"More: [{GUIDE}]({GUIDE}{guide}).", ""]
    return "\n".join(lines)


def _option_sections(command: click.Command, ctx: click.Context):
    """The options ``--help`` shows, in its sections: (title, [parameter, ...])."""
    if isinstance(command, SectionedCommand):
        return command.option_sections(ctx)
    shown = [
        p
        for p in command.get_params(ctx)
        if isinstance(p, click.Option) and p.get_help_record(ctx) is not None
    ]
    return [("Options", shown)] if shown else []


def _options_table(params: list[click.Parameter], ctx: click.Context) -> str:
    rows = ["| option | value | default | description |", "|---|---|---|---|"]
    for param in params:
        help_text, written_default = _split_default(param.help or "")
        cells = [
            _flags(param, ctx),
            _value(param, ctx),
            _default(param, ctx, written_default),
            _text(help_text),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _split_default(help_text: str) -> tuple[str, str | None]:
    """An option's help without a trailing hand-written ``[default: ...]``, and that default."""
    found = WRITTEN_DEFAULT.search(help_text)
    if found is None:
        return help_text, None
    return help_text[: found.start()], found.group(1)


def _flags(param: click.Parameter, ctx: click.Context) -> str:
    opts = param.opts
    if param is ctx.command.get_help_option(ctx):
        # Click keeps the help option it made first, whatever context that was for.
        names = set(ctx.command.get_help_option_names(ctx))
        opts = [name for name in ctx.help_option_names if name in names]
    names = ", ".join(f"`{opt}`" for opt in opts)
    if getattr(param, "secondary_opts", None):
        names += " / " + ", ".join(f"`{opt}`" for opt in param.secondary_opts)
    return names


def _value(param: click.Parameter, ctx: click.Context) -> str:
    """What the option takes: its metavar, with its range or its choices."""
    if getattr(param, "is_flag", False) and not getattr(param, "is_bool_flag", False):
        pass  # a flag with a value of its own (--binarize): described by its choices below
    elif getattr(param, "is_flag", False):
        return "flag"
    kind = param.type
    if isinstance(kind, click.Choice):
        return "one of " + ", ".join(f"`{choice}`" for choice in kind.choices)
    metavar = param.make_metavar(ctx)
    if isinstance(kind, RegisteredName):
        from mnist_vae import registry

        names = getattr(registry, kind.registry).builtin_names()
        listed = ", ".join(f"`{name}`" for name in names)
        what = "comma-separated registered names" if kind.separator else "a registered name"
        return f"{_code(metavar)}: {what} ({listed})"
    extra = param.get_help_extra(ctx) if isinstance(param, click.Option) else {}
    if extra.get("range"):
        base = metavar.removesuffix(" RANGE")
        return f"{_code(base)}, {_text(extra['range'])}"
    return _code(metavar)


def _default(param: click.Parameter, ctx: click.Context, written: str | None) -> str:
    """The default as ``--help`` states it (shown even where a command's help omits it)."""
    if written is not None:
        flags = [*param.opts, *getattr(param, "secondary_opts", [])]
        if f"--{written}" in flags:
            written = f"--{written}"  # a boolean flag's default, as it is typed
        return _code(written) if " " not in written else _text(written)
    if not isinstance(param, click.Option):
        return ""
    show = ctx.show_default
    ctx.show_default = True  # state every default, not only where --help does
    try:
        extra = param.get_help_extra(ctx)
    finally:
        ctx.show_default = show
    if extra.get("required"):
        return "required"
    shown = extra.get("default", "")
    if isinstance(param.show_default, str):
        shown = param.show_default  # click wraps a written default in parentheses
    elif param.is_bool_flag and param.secondary_opts and shown:
        shown = f"--{shown}"  # the flag itself, as it is typed
    return _code(shown) if shown and not isinstance(param.show_default, str) else _text(shown)


def _help_paragraphs(help_text: str) -> str:
    """A command's docstring as Markdown: paragraphs joined, ``\\b`` blocks kept as code."""
    text = inspect.cleandoc(help_text).split("\f", 1)[0]
    blocks = []
    for paragraph in re.split(r"\n\s*\n", text):
        if paragraph.startswith("\b"):
            blocks.append("```\n" + paragraph.removeprefix("\b").strip("\n") + "\n```")
        else:
            blocks.append(_text(" ".join(line.strip() for line in paragraph.splitlines())))
    return "\n\n".join(block for block in blocks if block.strip())


def _text(text: str) -> str:
    """Plain text made safe inside a Markdown table cell or paragraph."""
    text = " ".join(text.split())
    for char, escaped in (("\\", "\\\\"), ("|", "\\|"), ("*", "\\*"), ("`", "\\`")):
        text = text.replace(char, escaped)
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)  # what could start an HTML tag


def _code(text: str) -> str:
    """``text`` as inline code in a table cell (where even code escapes its pipes)."""
    return "`" + text.replace("|", "\\|") + "`"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--write",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the reference to this file (docs/cli.md) instead of printing it.",
)
def main(path: Path | None) -> None:
    """Render the command-line reference (docs/cli.md) from the commands."""
    text = render()
    if path is None:
        sys.stdout.write(text)
    else:
        from mnist_vae.io.files import atomic_file

        try:  # renamed into place whole: a failed write leaves the old reference
            with atomic_file(path, "w") as handle:
                handle.write(text)
        except OSError as error:
            raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
        click.echo(f"wrote {path}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
