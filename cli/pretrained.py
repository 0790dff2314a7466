"""``mnist-vae pretrained``: the trained models shipped with the package, and their cards."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the cards as a JSON list.")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the table as Markdown (docs/zoo.md carries it; a test compares).",
)
@click.option(
    "--reproduce",
    metavar="NAME",
    default=None,
    help="Train NAME again from its card's command into --out (run it again to "
    "resume after an interruption).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="With --reproduce: the run folder. [default: runs/NAME]",
)
@debug_option
@handle_errors
def pretrained(as_json, markdown, reproduce, out) -> None:
    """List the trained models that ship with mnist-vae.

    Each opens offline as pretrained:NAME wherever a run directory goes (sample,
    evaluate, export, compare, benchmark nll --run, train --m1-run) and in Python as
    mnist_vae.load_pretrained(NAME). Its card says how it was trained (the command,
    data hashes, epochs and updates, the mnist-vae version) and what it scores.
    """
    from mnist_vae.errors import UsageError
    from mnist_vae.runs.pretrained import catalogue, lookup, markdown_table, reproduce_arguments

    if out is not None and reproduce is None:
        raise UsageError("--out goes with --reproduce NAME")
    if reproduce is not None:
        if as_json or markdown:
            raise UsageError(
                "--json and --markdown list the cards; --reproduce trains: give one of them"
            )
        import shlex

        arguments = reproduce_arguments(lookup(reproduce), out)
        click.echo(f"mnist-vae {shlex.join(arguments)}", err=True)
        run_mnist_vae(arguments)
        return
    cards = [model.card for model in catalogue().values()]
    if as_json and markdown:
        raise UsageError("--json or --markdown: give one of them")
    if as_json:
        import json

        click.echo(json.dumps(cards, indent=2))
    elif markdown:
        click.echo(markdown_table(cards))
    else:
        _table(cards)


def run_mnist_vae(arguments: list[str]) -> None:
    """``mnist-vae ARGUMENTS`` in this process; exits with that command's code."""
    from mnist_vae.cli.main import cli

    cli.main(arguments, prog_name="mnist-vae")


def _table(cards: list[dict]) -> None:
    from rich.console import Console

    from mnist_vae.runs.pretrained import cards_table

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    console.print(cards_table(cards))
