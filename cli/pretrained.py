"""``mnist-vae pretrained``: the trained models shipped with the package, and their cards.

Its flags are ``PretrainedRequest``'s fields, declared there once."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, print_table, request_options
from mnist_vae.runs.pretrained import PretrainedRequest


@click.command()
@request_options(PretrainedRequest)
@debug_option
@handle_errors
def pretrained(**options) -> None:
    """List the trained models that ship with mnist-vae.

    Each opens offline as pretrained:NAME wherever a run directory goes (sample,
    evaluate, export, compare, benchmark nll --run, train --m1-run) and in Python as
    mnist_vae.load_pretrained(NAME). Its card says how it was trained (the command,
    data hashes, epochs and updates, the mnist-vae version) and what it scores.
    """
    from mnist_vae.runs.pretrained import (
        cards_table,
        catalogue,
        lookup,
        markdown_table,
        reproduce_arguments,
    )

    request = PretrainedRequest(**options)
    if request.reproduce is not None:
        import shlex

        arguments = reproduce_arguments(lookup(request.reproduce), request.out)
        click.echo(f"mnist-vae {shlex.join(arguments)}", err=True)
        run_mnist_vae(arguments)
        return
    cards = [model.card for model in catalogue().values()]
    if request.as_json:
        import json

        click.echo(json.dumps(cards, indent=2))
    elif request.markdown:
        click.echo(markdown_table(cards))
    else:
        print_table(cards_table(cards), width=170)


def run_mnist_vae(arguments: list[str]) -> None:
    """``mnist-vae ARGUMENTS`` in this process; exits with that command's code."""
    from mnist_vae.cli.main import cli

    cli.main(arguments, prog_name="mnist-vae")
