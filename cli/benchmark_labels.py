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
    summary_table,
    versus_real,
)
from mnist_vae.experiments.label_budget import LabelBudgetConfig
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
    print_budget_table(results)
    click.echo(f"wrote {out}/results.json, results.csv and error.png")


def print_budget_table(results: dict) -> None:
    from rich.console import Console

    paper = results.get("paper") or {}
    table = summary_table(
        "test error (%), mean +- std over seeds; accuracy gain vs real only "
        "(paired t-test); the paper's M2 and M1+M2 beside",
        ("labels", "method", "error", "gain", "p", "paper M2", "paper M1+M2"),
    )
    for row in results["summary"]:
        gain, p = versus_real(row)
        error = f"{100 * row['error']:.2f} +- {100 * row['std']:.2f}"
        anchors = [
            f"{paper[name][row['labels']]:.2f}"
            if row["labels"] in paper.get(name, {}) and row["method"] == "real"
            else ""
            for name in ("M2", "M1+M2")
        ]
        table.add_row(str(row["labels"]), row["method"].replace("_", "-"), error, gain, p, *anchors)
    Console().print(table)
