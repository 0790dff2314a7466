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
    --reproduce NAME trains it again from its card, first any run it was trained on
    (M1+M2's M1).
    """
    from mnist_vae.runs.pretrained import (
        cards_table,
        catalogue,
        lookup,
        markdown_table,
        reproduction_steps,
    )

    request = PretrainedRequest(**options)
    if request.reproduce is not None:
        import shlex

        from mnist_vae.cli.train import config_of

        model = lookup(request.reproduce)
        debug = click.get_current_context().params.get("debug")  # passed on to each command
        for arguments in reproduction_steps(model, request.out, config_of):
            click.echo(f"mnist-vae {shlex.join(arguments)}", err=True)
            run_mnist_vae([*arguments, "--debug"] if debug else arguments)
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
    """``mnist-vae ARGUMENTS`` in this process; a failure ends the reproduction with that
    command's exit code, success goes on to the next command."""
    from mnist_vae.cli.main import cli

    try:
        cli.main(arguments, prog_name="mnist-vae")
    except SystemExit as end:
        if end.code not in (0, None):
            raise
