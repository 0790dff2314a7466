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
    from mnist_vae.errors import RunError
    from mnist_vae.io import (
        human_age,
        human_size,
        remove_stale,
        stale_stages,
        unrecognised_stages,
    )

    searched = folders or (Path("."),)
    found = [stage for folder in searched for stage in stale_stages(folder)]
    for path in (path for folder in searched for path in unrecognised_stages(folder)):
        click.echo(f"{path}: not recognised as mnist-vae's (no staging marker), left alone")
    if not found:
        where = ", ".join(map(str, folders)) if folders else "the current folder"
        click.echo(f"nothing to clean in {where}")
        return
    width = max(len(str(stage.path)) for stage in found)
    for stage in found:
        click.echo(f"{stage.path!s:<{width}}  {human_size(stage.size):>8}  "
                   f"{human_age(stage.age):>7} old  {stage.describe()}")  # fmt: skip
    loose = [stage for stage in found if not stage.resumable]
    resumable = [stage for stage in found if stage.resumable]
    chosen = loose + (resumable if include_interrupted else [])
    if not yes:
        if loose:
            click.echo(f"{_items(loose)} left by killed processes; pass --yes to remove "
                       f"{'it' if len(loose) == 1 else 'them'}")  # fmt: skip
        if resumable:
            click.echo(f"{_items(resumable, 'interrupted run')} can be resumed; pass "
                       "--yes --include-interrupted to remove "
                       f"{'it' if len(resumable) == 1 else 'them'} as well")  # fmt: skip
        return
    failed = 0
    for stage in chosen:
        try:
            click.echo(remove_stale(stage))
        except OSError as error:
            failed += 1
            click.echo(f"could not remove {stage.path}: {error.strerror or error}", err=True)
    if resumable and not include_interrupted:
        click.echo(f"kept {_items(resumable, 'interrupted run')} (resumable); pass "
                   f"--include-interrupted to remove {'it' if len(resumable) == 1 else 'them'} "
                   "as well")  # fmt: skip
    if failed:
        raise RunError(f"{failed} of {len(chosen)} could not be removed (see above)")


def _items(stages: list, noun: str = "staging item") -> str:
    from mnist_vae.io import human_size

    size = human_size(sum(stage.size for stage in stages))
    return f"{len(stages)} {noun}{'' if len(stages) == 1 else 's'} ({size})"
