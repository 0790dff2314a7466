"""``mnist-vae compare``: a table of runs' metrics side by side.

Its arguments and flags are ``CompareRequest``'s fields, declared there once."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, print_table, request_options
from mnist_vae.evaluation.comparison import CompareRequest, compare_runs, comparison_table


@click.command()
@request_options(CompareRequest)
@debug_option
@handle_errors
def compare(**options) -> None:
    """Compare RUNS: config and metrics (run 'mnist-vae evaluate' first for the IWAE/FD columns).

    Each row names the data the run was trained and evaluated on and the judge of its
    sample-quality numbers; rows on different data (told by the hashes of its arrays),
    or judged by different judges, are flagged, on the console and on the --out sheet:
    their numbers do not compare.
    """
    import json

    request = CompareRequest(**options)
    comparison = compare_runs(request)
    if request.out is not None:
        click.echo(f"wrote {request.out}", err=True)
    if request.as_json:
        click.echo(json.dumps(comparison.rows, indent=2))
    else:
        print_table(comparison_table(comparison), width=160)
    for warning in comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
