"""``mnist-vae data``: locate (or fetch) MNIST and report where it came from."""

from __future__ import annotations

import time

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import data_option, debug_option


@click.command()
@data_option
@debug_option
@handle_errors
def data(data) -> None:
    """Find MNIST the way 'train' does, fetching and caching it if needed."""
    from mnist_vae.data import load_mnist

    start = time.perf_counter()
    loaded = load_mnist(data, report=lambda message: click.echo(message, err=True))
    click.echo(f"{loaded.describe()} [{time.perf_counter() - start:.1f} s]")
