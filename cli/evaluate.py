"""``mnist-vae evaluate``: ELBO, IWAE, reconstruction error and sample quality of a run.

Its argument and flags are ``EvaluationRequest``'s fields, declared there once."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, print_table, quiet_option, request_options
from mnist_vae.evaluation.run_evaluation import EvaluationRequest, evaluate_request


@click.command(context_settings={"show_default": True})
@request_options(EvaluationRequest)
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
    done = evaluate_request(
        EvaluationRequest(**options), report=lambda message: click.echo(message, err=True)
    )
    print_table(done.table())
