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
    run_benchmark_command,
)
from mnist_vae.experiments.label_budget import LabelBudgetConfig
from mnist_vae.experiments.tables import label_budget_table
from mnist_vae.settings import config_flag_specs, given_settings

LABEL_FLAGS = config_flag_specs(LabelBudgetConfig)


@click.command(context_settings={"show_default": True})
@config_options(LABEL_FLAGS)
@benchmark_options("labels", "results.json, results.csv, error.png and the trained models")
@handle_errors
def labels(out, overwrite, restart, data, quiet, **values) -> None:
    """Every method gets the same N labelled images: does a VAE beat real only?

    For each label budget N (balanced, seeded), real only (the classifier on the N
    images) against M1, M2, M2's and a budget-only CVAE's digits, and M1+M2 (Kingma et
    al. 2014), which also learn from every other image without its label. Progress
    shows every step with the time left for the whole benchmark.
    """
    run_labels(values, out=out, overwrite=overwrite, restart=restart, data=data)


def run_labels(
    values: dict[str, Any],
    *,
    out: str | None,
    overwrite: bool,
    restart: bool,
    data: str | None,
    note: str | None = None,
) -> None:
    """The benchmark of the flags' ``values``; ``note`` is said once they are checked."""
    from mnist_vae.data import load_mnist
    from mnist_vae.experiments.label_budget import run_label_budget

    config = LabelBudgetConfig(**given_settings(LabelBudgetConfig, values))
    given = {"out": out, "overwrite": overwrite, "restart": restart, "data": data, "note": note}
    results, out = run_benchmark_command("labels", run_label_budget, config, load_mnist, **given)
    print_table(label_budget_table(results))
    click.echo(f"wrote {out}/results.json, results.csv and error.png")


def print_table(table: Any) -> None:
    """A benchmark's summary table (``mnist_vae.experiments.tables``), on stdout."""
    from rich.console import Console

    Console().print(table)
