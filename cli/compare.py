"""``mnist-vae compare``: a table of runs' metrics side by side."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, overwrite_option


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also draw one sheet (PNG): each run's prior samples side by side, their numbers "
    "as bar charts beneath.",
)
@overwrite_option
@debug_option
@handle_errors
def compare(runs, as_json, out, overwrite) -> None:
    """Compare RUNS: config and metrics (run 'mnist-vae evaluate' first for the IWAE/FD columns).

    Each row names the data the run was trained and evaluated on and the judge of its
    sample-quality numbers; rows on different data (told by the hashes of its arrays),
    or judged by different judges, are flagged, on the console and on the --out sheet:
    their numbers do not compare.
    """
    import json

    from mnist_vae.evaluation.comparison import CompareRequest, compare_runs, comparison_table

    comparison = compare_runs(CompareRequest(runs, out, overwrite))
    if out is not None:
        click.echo(f"wrote {out}", err=True)
    if as_json:
        click.echo(json.dumps(comparison.rows, indent=2))
    else:
        from rich.console import Console

        console = Console()
        if not console.is_terminal:  # a log or a pipe: full numbers, not 80 squeezed columns
            console = Console(width=160)
        console.print(comparison_table(comparison))
    for warning in comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
