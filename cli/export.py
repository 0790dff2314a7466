"""``mnist-vae export``: a SavedModel (or TFLite) that serves without mnist-vae.

Its argument and flags are ``ExportRequest``'s fields, declared there once."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, quiet_option, request_options
from mnist_vae.export.writer import ExportRequest, export_request


@click.command(context_settings={"show_default": True})
@request_options(ExportRequest)
@quiet_option
@debug_option
@handle_errors
def export(quiet: bool, **options) -> None:
    """Export RUN's generative model for TensorFlow Serving, tf.saved_model.load or TFLite.

    Signatures: encode, decode, reconstruct (serving_default), sample, metadata, and
    sample_NAME for each latent sampler fitted to the run; see docs/export.md for shapes
    and dtypes.
    """
    request = ExportRequest(**options)
    written = export_request(request)
    click.echo(f"wrote {written} ({request.export_format})")
