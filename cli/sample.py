"""``mnist-vae sample``: a PNG grid (and optionally .npy) of images drawn from a run.

Its argument and flags are ``SampleRequest``'s fields, declared there once."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, quiet_option, request_options
from mnist_vae.training.drawing import SampleRequest, draw_samples


@click.command(context_settings={"show_default": True})
@request_options(SampleRequest)
@quiet_option
@debug_option
@handle_errors
def sample(quiet: bool, **options) -> None:
    """Draw images from the run RUN (or an export): from the prior, a fitted latent sampler
    (--sampler) or around one chosen class (--class, by label or name)."""
    result = draw_samples(
        SampleRequest(**options), report=lambda message: click.echo(message, err=True)
    )
    for written in (result.out, result.npy):
        if written is not None:
            click.echo(f"wrote {written}")
