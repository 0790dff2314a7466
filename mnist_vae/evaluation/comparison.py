"""``mnist-vae compare`` as one call: runs' settings and numbers side by side, and
whether those numbers compare at all (the same data, the same judge)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_vae.declarations import REQUIRED, option, overwrite_setting
from mnist_vae.errors import UsageError
from mnist_vae.runs import Run

# (column, path into metrics.json, shown in the table as well as in --json)
COLUMNS = (
    ("-ELBO", ("test", "negative_elbo"), True),
    ("IWAE", ("evaluation", "iwae_negative_log_likelihood"), True),
    ("FD", ("evaluation", "frechet_distance"), True),
    ("conf.", ("evaluation", "sample_confidence"), True),
    ("agree", ("evaluation", "labelled_agreement"), True),
    ("recon MSE", ("evaluation", "pixel_mse"), False),
    ("bin. -ELBO", ("evaluation_binarized", "negative_elbo"), False),
    ("train s", ("train_seconds",), False),
)
SHOWN = (
    "run",
    "arch",
    "strategy",
    "z",
    "data",
    *(label for label, _, shown in COLUMNS if shown),
    "judge",
)


@dataclass(frozen=True)
class CompareRequest:
    """The runs to compare (directories or ``pretrained:NAME``), and the sheet to draw
    (``out``, a PNG; replaced only with ``overwrite``); ``as_json``: the rows printed as
    JSON. ``mnist-vae compare``'s arguments and flags are these fields, declared here once."""

    runs: tuple[str, ...] = option(REQUIRED, "The runs to compare.", path="folder", argument=True)
    as_json: bool = option(
        False, "Print JSON instead of a table.", flag="json", switch=True, kw_only=True
    )
    out: str | None = option(
        None,
        "Also draw one sheet (PNG): each run's prior samples side by side, their numbers "
        "as bar charts beneath.",
        path="file",
    )
    overwrite: bool = overwrite_setting()


@dataclass(frozen=True)
class Comparison:
    """One row per run (settings and numbers by column label) and why they do not compare."""

    rows: list[dict]
    warnings: list[str]


def compare_runs(request: CompareRequest) -> Comparison:
    """Read each run's config and metrics into a row; draw the sheet if ``out`` is given.

        from mnist_vae.evaluation import CompareRequest, compare_runs

        compare_runs(CompareRequest(["runs/net1", "pretrained:NAME"], out="sheet.png")).rows

    A bad ``out`` fails before any run is read; rows on different data (told by the
    hashes of its arrays) or judged by different judges are named in ``warnings``,
    which the sheet shows too.
    """
    from mnist_vae.io import check_output_file
    from mnist_vae.runs import load_run

    if request.out is not None:
        if Path(request.out).suffix.lower() != ".png":
            raise UsageError(f"--out {request.out}: the sheet is a PNG; give a name ending in .png")
        check_output_file(Path(request.out), overwrite=request.overwrite)
    runs = [load_run(path) for path in request.runs]
    rows = [run_row(run) for run in runs]
    identities = [data_identity(run.record.get("data")) for run in runs]
    warnings = mismatches(rows, identities)
    if request.out is not None:
        from mnist_vae.evaluation.compare_sheet import run_samples, save_compare_sheet

        save_compare_sheet(
            rows,
            [run_samples(run) for run in runs],
            Path(request.out),
            warnings=warnings,
            mixed_data=len(set(identities)) > 1,
        )
    return Comparison(rows, warnings)


def comparison_table(comparison: Comparison) -> Any:
    """The rows as ``mnist-vae compare`` prints them: a rich table of the ``SHOWN`` columns,
    each run by its folder's name."""
    from rich.table import Table

    table = Table(title="runs (nats per image; FD, confidence, agreement: mnist-vae evaluate)")
    for column in SHOWN:
        table.add_column(column, justify="left" if column in ("run", "strategy") else "right")
    for row in comparison.rows:
        row = {**row, "run": Path(row["run"]).name}
        table.add_row(*(_cell(row[column]) for column in SHOWN))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def run_row(run: Run) -> dict:
    """A run's row: its path, settings, data, the numbers of ``COLUMNS`` and its judge."""
    from mnist_vae.data import data_label

    model = run.config.model
    row = {
        "run": str(run.path),
        "arch": model.architecture or f"{model.encoder}+{model.decoder}",
        "strategy": model.strategy,
        "z": model.latent_dim,
        "data": data_label(run.record.get("data")),
    }
    for label, keys, _ in COLUMNS:
        value = run.metrics
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        row[label] = value
    judge = (run.metrics.get("evaluation") or {}).get("judge") or {}
    row["judge"] = judge.get("sha256", "")[:8] or None
    return row


def data_identity(recorded: dict | None) -> tuple:
    """What tells a run's data apart: the hashes of its decoded arrays (so a copy
    recompressed or renamed is the same data), else for old records canonical MNIST or
    the data's name."""
    from mnist_vae.data import data_label

    recorded = recorded or {}
    if recorded.get("train_sha256") and recorded.get("test_sha256"):
        return ("sha256", recorded["train_sha256"], recorded["test_sha256"])
    if recorded.get("canonical_mnist"):
        return ("MNIST",)
    return ("label", data_label(recorded))


def mismatches(rows: list[dict], identities: list[tuple]) -> list[str]:
    """Why some rows' numbers do not compare: other data, or other judges."""
    found = []
    if len(set(identities)) > 1:
        labels = {}
        for row, identity in zip(rows, identities, strict=True):
            labels.setdefault(identity, row["data"])
        found.append(
            f"these runs were trained and evaluated on different data "
            f"({', '.join(labels.values())}); their numbers do not "
            "compare"
        )
    judges = sorted({row["judge"] for row in rows if row["FD"] is not None and row["judge"]})
    if len(judges) > 1:
        found.append(
            f"FD and confidence come from different reference classifiers "
            f"({', '.join(judges)}); they do not compare"
        )
    return found
