"""``mnist-vae export``: a SavedModel (or TFLite) that serves without mnist-vae."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, overwrite_option, quiet_option, run_argument
from mnist_vae.config import EXPORT_FORMATS


@click.command(context_settings={"show_default": True})
@run_argument
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to create.")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(EXPORT_FORMATS),
    default=EXPORT_FORMATS[0],
    help="savedmodel: every signature; tflite: model.tflite with decode, sample and each "
    "sample_NAME.",
)
@overwrite_option
@quiet_option
@debug_option
@handle_errors
def export(run, out, export_format, overwrite, quiet) -> None:
    """Export RUN's generative model for TensorFlow Serving, tf.saved_model.load or TFLite.

    Signatures: encode, decode, reconstruct (serving_default), sample, metadata, and
    sample_NAME for each latent sampler fitted to the run; see docs/export.md for shapes
    and dtypes.
    """
    from mnist_vae.export import export_run
    from mnist_vae.io import check_output_dir
    from mnist_vae.runs import load_run

    loaded = load_run(run)
    check_output_dir(out, overwrite=overwrite)
    written = export_run(loaded, out, format=export_format, overwrite=overwrite)
    click.echo(f"wrote {written} ({export_format})")
