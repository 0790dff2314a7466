"""``mnist-vae pretrained``: the trained models shipped with the package, and their cards."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the cards as a JSON list.")
@click.option("--markdown", is_flag=True,
              help="Print the table as Markdown (docs/zoo.md carries it; a test compares).")
@click.option("--reproduce", metavar="NAME", default=None,
              help="Train NAME again from its card's command into --out (run it again to "
                   "resume after an interruption).")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="With --reproduce: the run folder. [default: runs/NAME]")  # fmt: skip
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
    from mnist_vae.runs.pretrained import catalogue, lookup

    if out is not None and reproduce is None:
        raise UsageError("--out goes with --reproduce NAME")
    if reproduce is not None:
        if as_json or markdown:
            raise UsageError("--json and --markdown list the cards; --reproduce trains: give "
                             "one of them")  # fmt: skip
        _reproduce(lookup(reproduce), out)
        return
    cards = [model.card for model in catalogue().values()]
    if as_json and markdown:
        raise UsageError("--json or --markdown: give one of them")
    if as_json:
        import json

        click.echo(json.dumps(cards, indent=2))
        return
    if markdown:
        click.echo(markdown_table(cards))
        return
    _table(cards)


def _reproduce(model, out) -> None:
    """Run the card's command with --out OUT, or resume OUT's interrupted training."""
    import shlex
    from pathlib import Path

    from mnist_vae.io import training_stage_path

    out = Path(out or f"runs/{model.name}")
    if training_stage_path(out).is_dir():
        arguments = ["train", "--resume", str(out)]
    else:
        tokens = shlex.split(model.card["command"])[1:]  # without "mnist-vae"
        tokens[tokens.index("--out") + 1] = str(out)
        arguments = tokens
    click.echo(f"mnist-vae {shlex.join(arguments)}", err=True)
    run_mnist_vae(arguments)


def run_mnist_vae(arguments: list[str]) -> None:
    """``mnist-vae ARGUMENTS`` in this process; exits with that command's code."""
    from mnist_vae.cli.main import cli

    cli.main(arguments, prog_name="mnist-vae")


COLUMNS = ("name", "strategy", "arch", "z", "data", "NLL", "K", "-ELBO", "FD", "updates",
           "train", "paper")  # fmt: skip
LEFT = ("name", "strategy", "arch", "data", "paper")
PIXELS = {"none": "grey levels", "dynamic": "dynamic binary", "threshold": "thresholded"}


def card_row(card: dict) -> list[str]:
    """One card as the table's cells (nats per image)."""
    paper = card.get("paper") or {}
    updates = card.get("updates")
    pixels = PIXELS.get(card["binarize"], card["binarize"])
    return [
        card["name"], card["strategy"], str(card.get("architecture") or "-"),
        str(card.get("latent_dim", "-")), f"MNIST, {pixels}",
        _number(card.get("nll")), str(card.get("iw_samples") or "-"),
        _number(card.get("negative_elbo")), _number(card.get("fd")),
        "-" if updates is None else f"{updates:,}", _duration(card.get("train_seconds")),
        f"{paper.get('row', '')} {_number(_paper_value(paper))}".strip() if paper else "-",
    ]  # fmt: skip


def markdown_table(cards: list[dict]) -> str:
    """The table in Markdown, as docs/zoo.md shows it."""
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if c in LEFT else "---:" for c in COLUMNS) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(card_row(card)) + " |" for card in cards]
    return "\n".join(lines)


def _table(cards: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pretrained models (nats per image; open one as pretrained:NAME)")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in LEFT else "right")
    for card in cards:
        table.add_row(*card_row(card))
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    console.print(table)


def _paper_value(paper: dict):
    """The paper's number: its NLL, else its test error (semi-supervised rows)."""
    return paper.get("nll") if paper.get("nll") is not None else paper.get("error")


def _number(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
