"""Each benchmark's summary as a rich table: the numbers of its results.json as the
benchmark presents them (mean +- std over seeds, the paired test against real only, the
papers' figures beside), so every caller shows the same table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def summary_table(title: str, columns: tuple[str, ...], left: str = "method") -> Any:
    """A rich table of a benchmark's results: its columns right-aligned but ``left``."""
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == left else "right")
    return table


def versus_real(row: Mapping[str, Any]) -> tuple[str, str]:
    """A summary row's mean difference from real only (in points, signed) and its paired
    t-test's p, as text: empty where there is none (and p where it is not a number)."""
    test = row.get("vs_real")
    difference = "" if test is None else f"{100 * test['mean_difference']:+.2f}"
    p = "" if test is None or test["p"] != test["p"] else f"{test['p']:.3f}"
    return difference, p


def augment_table(results: Mapping[str, Any]) -> Any:
    """``benchmark augment``: accuracy per fraction and method, and its gain over real only."""
    table = summary_table(
        "test accuracy (%), mean +- std over seeds; difference vs real only (paired t-test)",
        ("fraction", "method", "accuracy", "difference", "p"),
    )
    for row in results["summary"]:
        difference, p = versus_real(row)
        accuracy = f"{100 * row['mean']:.2f} +- {100 * row['std']:.2f}"
        method = row["method"].replace("_", "-")
        table.add_row(f"{row['fraction']:g}", method, accuracy, difference, p)
    return table


def label_budget_table(results: Mapping[str, Any]) -> Any:
    """``benchmark labels`` (and ``merge``): error per budget and method, the gain over
    real only, and the paper's M2 and M1+M2 errors beside real only's rows."""
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
    return table


def nll_table(results: Mapping[str, Any]) -> Any:
    """``benchmark nll``: each model's test NLL beside its paper's, with its bound's terms,
    size and cost; the setting (networks, latent size, binarization) in the title."""
    from mnist_vae.experiments.nll import model_key

    rows = results["rows"]
    k = rows[0]["iw_samples"] if rows else "?"
    setting = (
        (
            f"{rows[0]['architecture']}, latent {rows[0]['latent_dim']}, "
            f"{rows[0]['binarize']} binarization"
        )
        if rows
        else ""
    )
    title = f"test NLL (nats), importance sampling with K = {k}; {setting}"
    columns = ("model", "NLL", "paper", "-ELBO", "KL", "active", "params", "epochs", "train s")
    table = summary_table(title, columns, left="model")
    for row in rows:
        anchor = row["anchor"]
        table.add_row(
            model_key(row["strategy"], row.get("options")),
            f"{row['nll']:.2f}",
            f"{anchor[1]:.2f}" if anchor else "-",
            f"{row['negative_elbo']:.2f}",
            f"{row['kl']:.2f}",
            f"{row['active_units']}",
            f"{row['parameters'] / 1000:.0f}k",
            # a run still in training: the epochs of its checkpoint, of those planned
            f"{row['epochs']} of {row['planned_epochs']}"
            if row.get("in_progress")
            else str(row["epochs"]),
            f"{row['train_seconds']:.0f}" if row["train_seconds"] is not None else "-",
        )
    return table


def nll_spread_lines(results: Mapping[str, Any]) -> list[str]:
    """One line per model measured with several seeds of one recipe: mean ± sample std."""
    return [
        f"{entry['model']}: {entry['nll_mean']:.2f} ± {entry['nll_std']:.2f} nats over seeds "
        f"{', '.join(map(str, entry['seeds']))} ({', '.join(f'{v:.2f}' for v in entry['nll'])})"
        for entry in results.get("spread", [])
    ]


def nll_sources(results: Mapping[str, Any]) -> list[str]:
    """Where the ``paper`` column's figures come from: ``MODEL: SOURCE``, one per model."""
    from mnist_vae.experiments.nll import model_key

    return [
        f"{model_key(row['strategy'], row.get('options'))}: {row['anchor'][0]}"
        for row in results["rows"]
        if row["anchor"]
    ]
