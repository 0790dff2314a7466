"""``mnist-vae evaluate``: ELBO, IWAE, reconstruction error and sample quality of a run."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    RegisteredOption,
    data_option,
    debug_option,
    quiet_option,
    run_argument,
    seed_option,
)
from mnist_vae.config import BINARIZATIONS


@click.command(context_settings={"show_default": True})
@run_argument
@click.option(
    "--iw-samples",
    type=click.IntRange(min=1, max=100_000),
    default=200,
    help="K for the IWAE bound.",
)
@click.option(
    "--binarize",
    type=click.Choice(BINARIZATIONS),
    is_flag=False,
    flag_value="threshold",
    default=None,
    help="Test on binary pixels: threshold (also plain --binarize) at 0.5, or dynamic (one "
    "fixed-seed draw from the grey levels); none for grey levels. [default: as the run trained]",
)
@click.option(
    "--samples",
    type=click.IntRange(min=100, max=100_000),
    default=10_000,
    help="Samples for the Fréchet distance and confidence.",
)
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
def evaluate(run, iw_samples, binarize, samples, reference_classifier, no_quality,
             sampler_names, seed, data, quiet) -> None:  # fmt: skip
    """Evaluate RUN on the test set and add the results to its metrics.json.

    By default RUN is evaluated on the data it was trained on (checked by its
    hashes). With --data on other data, the result is kept beside the run's own
    evaluation, under a key naming that data, never in its place; if that data's
    classes are not the run's, the class agreement says so (it compares label numbers).
    """
    from mnist_vae.data import data_label
    from mnist_vae.errors import UsageError
    from mnist_vae.evaluation import data_for_run, evaluate_run, evaluation_key
    from mnist_vae.io import check_writable_dir
    from mnist_vae.runs import load_run

    check_writable_dir(run, "evaluate adds its results to the run's metrics.json")
    if reference_classifier and no_quality:
        raise UsageError("--reference-classifier judges sample quality; drop --no-quality")
    loaded = load_run(run)

    def say(message: str) -> None:
        click.echo(message, err=True)

    fitted, keys = None, []
    if sampler_names:
        from mnist_vae.models.latent_samplers import PRIOR, display_name, sampler_key

        if no_quality:
            raise UsageError("--sampler asks for sample quality; drop --no-quality")
        keys = [key for key in dict.fromkeys(map(sampler_key, sampler_names)) if key != PRIOR]
    mnist = data_for_run(loaded, data, report=say)
    if keys:
        from mnist_vae.models.sampling import check_sampler_use
        from mnist_vae.training.sampler_fitting import run_sampler

        model = loaded.load_model()
        check_sampler_use(model)
        fitted = {display_name(key): run_sampler(loaded, key, model=model, data=mnist,
                                                 report=say) for key in keys}  # fmt: skip
    result = evaluate_run(
        loaded, data=mnist, iw_samples=iw_samples, binarize=binarize, quality=not no_quality,
        quality_samples=samples, reference_path=reference_classifier, seed=seed, report=say,
        samplers=fitted,
    )  # fmt: skip
    from rich.console import Console
    from rich.table import Table

    mode = binarize or loaded.config.train.binarize
    key = evaluation_key(loaded, mnist, mode)
    other = result["data"]["trained_on_this_data"] is False
    trained = data_label(loaded.record.get("data"))
    say(f"evaluated on {data_label(mnist.provenance)}"
        + (f", not the run's training data ({trained})" if other else "")
        + f"; stored as {key!r} in {loaded.path / 'metrics.json'}, drawn in "
        f"{loaded.path / 'figures' / (key + '.png')}")  # fmt: skip
    note = result.get("labelled_agreement_note")
    if note is not None:
        say(f"warning: {note}")
    suffix = {"none": "", "threshold": " (thresholded test set)",
              "dynamic": " (dynamically binarized test set)"}[mode]  # fmt: skip
    table = Table(title=f"{loaded.path}{suffix}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [(name, value) for name, value in result.items()]
    for sampler, numbers in result.get("samplers", {}).items():
        rows += [(f"{sampler}: {name}", value) for name, value in numbers.items()]
    for name, value in rows:
        if name == "labelled_agreement" and note is not None:
            name = "labelled_agreement (by label number: not the run's classes)"
        if isinstance(value, float):
            table.add_row(name, f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}")
    Console().print(table)
