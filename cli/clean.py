"""``mnist-vae clean``: list, and remove, the staging items killed processes left behind.

Its argument and flags are ``CleanRequest``'s fields, declared there once."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, request_options
from mnist_vae.io import CleanRequest, clean_stages


@click.command()
@request_options(CleanRequest)
@debug_option
@handle_errors
def clean(**options) -> None:
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
    clean_stages(
        CleanRequest(**options),
        report=click.echo,
        failed=lambda message: click.echo(message, err=True),
    )
