"""The benchmarks' summary tables, built from their results as the commands print them."""

from __future__ import annotations

import io

from rich.console import Console

from mnist_vae.experiments.tables import (
    augment_table,
    label_budget_table,
    nll_sources,
    nll_table,
    versus_real,
)


def shown(table) -> str:
    """The table as a wide terminal shows it."""
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table)
    return console.export_text()


def test_versus_real_is_signed_points_and_p_or_empty():
    assert versus_real({"vs_real": {"mean_difference": 0.0123, "p": 0.04567}}) == ("+1.23", "0.046")
    assert versus_real({"vs_real": {"mean_difference": -0.01, "p": float("nan")}}) == ("-1.00", "")
    assert versus_real({}) == ("", "")


def test_the_augment_table_has_a_row_per_fraction_and_method():
    summary = [
        {"fraction": 0.2, "method": "real", "mean": 0.9512, "std": 0.001},
        {
            "fraction": 0.2,
            "method": "class_mean",
            "mean": 0.9601,
            "std": 0.002,
            "vs_real": {"mean_difference": 0.0089, "p": 0.01},
        },
    ]
    text = shown(augment_table({"summary": summary}))
    assert "test accuracy (%)" in text
    assert "95.12 +- 0.10" in text and "class-mean" in text and "+0.89" in text


def test_the_label_budget_table_puts_the_paper_beside_real_only():
    summary = [
        {"labels": 100, "method": "real", "error": 0.25, "std": 0.01},
        {"labels": 100, "method": "m1_m2", "error": 0.05, "std": 0.01},
    ]
    table = label_budget_table({"summary": summary, "paper": {"M2": {100: 11.97}}})
    rows = [list(column.cells) for column in table.columns]
    assert rows[5] == ["11.97", ""] and rows[6] == ["", ""]
    assert rows[1] == ["real", "m1-m2"] and rows[2] == ["25.00 +- 1.00", "5.00 +- 1.00"]


def test_the_nll_table_names_its_setting_and_its_papers():
    row = {
        "strategy": "iwae",
        "options": {},
        "iw_samples": 5000,
        "architecture": "mlp",
        "latent_dim": 50,
        "binarize": "dynamic",
        "nll": 85.1,
        "anchor": ["Burda et al. 2016", 85.54],
        "negative_elbo": 87.0,
        "kl": 25.0,
        "active_units": 20,
        "parameters": 12345,
        "epochs": 10,
        "train_seconds": 99.6,
    }
    results = {"rows": [row, {**row, "strategy": "vae", "anchor": None}]}
    table = nll_table(results)
    assert table.title.endswith("K = 5000; mlp, latent 50, dynamic binarization")
    text = shown(table)
    assert "85.54" in text and "12k" in text and "100" in text
    assert nll_sources(results) == ["iwae: Burda et al. 2016"]
    assert nll_table({"rows": []}).title.endswith("K = ?; ")
