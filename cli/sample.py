"""``mnist-vae sample``: a PNG grid (and optionally .npy) of images drawn from a run."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    RegisteredOption,
    count_option,
    debug_option,
    overwrite_option,
    quiet_option,
    seed_option,
)


@click.command(context_settings={"show_default": True})
@click.argument("run", required=False, type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--saved-model",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Sample from an export (mnist-vae export) instead of a run, using TensorFlow only. "
    "A SavedModel is a program: open only exports you made or trust (docs/export.md).",
)
@count_option("--count", 100, "How many images.")
@click.option(
    "--class",
    "class_",
    metavar="CLASS",
    default=None,
    help="Draw this class, given by its label 0-9 or its name in the run's data (e.g. 3, or "
    "sneaker for Fashion-MNIST): around its mean code (the report's labelled synthesis), or "
    "from p(x | z, y=class) for a conditional (cvae) model.",
)
@click.option(
    "--digit",
    type=click.IntRange(0, 9),
    default=None,
    help="The same as --class with a label 0-9 (its older name).",
)
@click.option(
    "--noise-variance",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    help="With --class on unconditional models: z = mean_z(class) + N(0, variance * I).",
)
@click.option(
    "--sampler",
    cls=RegisteredOption,
    registry="samplers",
    default="prior",
    help="Where the codes come from: prior (the model's own), gmm (a Gaussian mixture "
    "fitted to the training codes) or second-stage (a second VAE on the codes), or a "
    "plugin's. A sampler is fitted on first use and saved in RUN/samplers/.",
)
@click.option(
    "--refit",
    is_flag=True,
    help="Fit the --sampler again and replace the saved one (a RUN only).",
)
@seed_option("Random seed for the latent draws.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="PNG to write. [default: RUN/samples/prior-sSEED.png, SAMPLER-sSEED.png or "
    "digitD-sSEED.png (classC-sSEED.png for --class on data that is not digits); for "
    "--saved-model, "
    "NAME-prior-sSEED.png (or NAME-SAMPLER-...) here]",
)
@click.option(
    "--npy",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also save the images as a float32 (N, 28, 28) .npy array.",
)
@click.option("--cols", type=click.IntRange(min=1, max=100), default=10, help="Images per row.")
@overwrite_option
@quiet_option
@debug_option
@handle_errors
def sample(quiet: bool, **options) -> None:
    """Draw images from the run RUN (or an export): from the prior, a fitted latent sampler
    (--sampler) or around one chosen class (--class, by label or name)."""
    from mnist_vae.training.drawing import SampleRequest, draw_samples

    result = draw_samples(
        SampleRequest(**options), report=lambda message: click.echo(message, err=True)
    )
    for written in (result.out, result.npy):
        if written is not None:
            click.echo(f"wrote {written}")
