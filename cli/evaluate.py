"""``mnist-vae evaluate``: ELBO, IWAE, reconstruction error and sample quality of a run."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    RegisteredOption,
    count_option,
    data_option,
    debug_option,
    quiet_option,
    run_argument,
    seed_option,
)
from mnist_vae.config import BINARIZATIONS


@click.command(context_settings={"show_default": True})
@run_argument
@count_option("--iw-samples", 200, "K for the IWAE bound.")
@click.option(
    "--binarize",
    type=click.Choice(BINARIZATIONS),
    is_flag=False,
    flag_value="threshold",
    default=None,
    help="Test on binary pixels: threshold (also plain --binarize) at 0.5, or dynamic (one "
    "fixed-seed draw from the grey levels); none for grey levels. [default: as the run trained]",
)
@count_option("--samples", 10_000, "Samples for the Fréchet distance and confidence.", minimum=100)
@click.option(
    "--reference-classifier",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="A saved reference classifier (.keras with its .json) instead of the cached one "
    "(left out, one is trained on first use and cached).",
)
@click.option(
    "--no-quality",
    is_flag=True,
    help="Skip the sample-quality numbers (no reference classifier needed).",
)
@click.option(
    "--sampler",
    "sampler_names",
    cls=RegisteredOption,
    registry="samplers",
    multiple=True,
    help="Also judge samples from this latent sampler (gmm, second-stage, ...), fitted "
    "first if the run has none saved. Repeatable.",
)
@seed_option("Random seed for the IWAE noise and the samples.")
@data_option
@quiet_option
@debug_option
@handle_errors
def evaluate(quiet: bool, **options) -> None:
    """Evaluate RUN on the test set and add the results to its metrics.json.

    By default RUN is evaluated on the data it was trained on (checked by its
    hashes). With --data on other data, the result is kept beside the run's own
    evaluation, under a key naming that data, never in its place; if that data's
    classes are not the run's, the class agreement says so (it compares label numbers).
    """
    from rich.console import Console

    from mnist_vae.evaluation import EvaluationRequest, evaluate_request

    done = evaluate_request(
        EvaluationRequest(**options), report=lambda message: click.echo(message, err=True)
    )
    Console().print(done.table())
