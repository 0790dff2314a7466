"""``mnist-vae benchmark labels``: the label-budget protocol (docs/benchmarks.md).

Its flags are ``LabelBudgetConfig``'s fields (``config_flag_specs``); ``benchmark
augment --labels`` is its former name, kept as an alias (``run_labels``).
"""

from __future__ import annotations

from typing import Any

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    benchmark_options,
    config_options,
    print_table,
)
from mnist_vae.experiments.label_budget import LabelBudgetConfig
from mnist_vae.experiments.skeleton import BenchmarkControls, run_benchmark_command
from mnist_vae.experiments.tables import label_budget_table
from mnist_vae.settings import config_flag_specs, given_settings, taken_record

LABEL_FLAGS = config_flag_specs(LabelBudgetConfig)


@click.command(context_settings={"show_default": True})
@config_options(LABEL_FLAGS)
@benchmark_options("labels", "results.json, results.csv, error.png and the trained models")
@handle_errors
def labels(quiet: bool, **values) -> None:
    """Every method gets the same N labelled images: does a VAE beat real only?

    For each label budget N (balanced, seeded), real only (the classifier on the N
    images) against M1, M2, M2's and a budget-only CVAE's digits, and M1+M2 (Kingma et
    al. 2014), which also learn from every other image without its label. Progress
    shows every step with the time left for the whole benchmark.
    """
    run_labels(values, taken_record(BenchmarkControls, values))


def run_labels(
    values: dict[str, Any], controls: BenchmarkControls, *, note: str | None = None
) -> None:
    """The benchmark of the flags' ``values``; ``note`` is said once they are checked."""
    from mnist_vae.data import load_mnist
    from mnist_vae.experiments.label_budget import run_label_budget

    config = LabelBudgetConfig(**given_settings(LabelBudgetConfig, values))
    results, out = run_benchmark_command(
        "labels", run_label_budget, config, load_mnist, controls, report=say, note=note
    )
    print_table(label_budget_table(results))
    click.echo(f"wrote {out}/results.json, results.csv and error.png")


def say(message: str) -> None:
    """A benchmark's notes and progress go to stderr; stdout keeps its table."""
    click.echo(message, err=True)
