"""``mnist-vae clean``: list, and remove, the staging items killed processes left behind."""

from __future__ import annotations

from pathlib import Path

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option


@click.command()
@click.argument(
    "folders",
    nargs=-1,
    metavar="[FOLDER]...",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--yes", is_flag=True, help="Remove them; without it they are only listed.")
@click.option(
    "--include-interrupted",
    is_flag=True,
    help="With --yes, remove interrupted runs too. They are resumable work: 'mnist-vae "
    "train --resume OUT' continues a training from its last checkpoint, and the same "
    "'mnist-vae benchmark' command run again continues a benchmark.",
)
@debug_option
@handle_errors
def clean(folders, yes, include_interrupted) -> None:
    """List what killed mnist-vae processes left in FOLDER (default: the current folder),
    and remove it with --yes.

    \b
    Writers work under hidden names beside their result and rename it into place
    when done. A kill -9 (or a power cut) leaves those behind:
      .NAME.XXXXXXXX.partial          a result folder being written
      .STEM.TOKEN.partial.SUFFIX      a file being written
      .NAME.XXXXXXXX.old              the previous NAME, moved aside by --overwrite
      .NAME.training                  an interrupted training or benchmark (resumable)

    Only the folders given are looked at, not their subfolders (a run's samplers/,
    say). A staging item that a running mnist-vae process holds is never listed
    or touched. Nor is anything without mnist-vae's proof of origin (a marker file
    in a folder, a checked token in a file's name), however it is named: a user's
    .notes.training/, say, or staging left by a version before the markers. Those
    are reported as not recognised and left alone.
    """
    from mnist_vae.io import CleanRequest, clean_stages

    clean_stages(
        CleanRequest(folders, yes, include_interrupted),
        report=click.echo,
        failed=lambda message: click.echo(message, err=True),
    )
