"""``mnist-vae compare``: a table of runs' metrics side by side."""

from __future__ import annotations

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, overwrite_option

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
SHOWN = ("run", "arch", "strategy", "z", "data", *(label for label, _, shown in COLUMNS if shown),
         "judge")  # fmt: skip


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also draw one sheet (PNG): each run's prior samples side by side, their numbers "
    "as bar charts beneath.",
)
@overwrite_option
@debug_option
@handle_errors
def compare(runs, as_json, out, overwrite) -> None:
    """Compare RUNS: config and metrics (run 'mnist-vae evaluate' first for the IWAE/FD columns).

    Each row names the data the run was trained and evaluated on and the judge of its
    sample-quality numbers; rows on different data (told by the hashes of its arrays),
    or judged by different judges, are flagged, on the console and on the --out sheet:
    their numbers do not compare.
    """
    import json

    from mnist_vae.data import data_label
    from mnist_vae.runs import load_run

    if out is not None:
        from pathlib import Path

        from mnist_vae.errors import UsageError
        from mnist_vae.io import check_output_file

        if Path(out).suffix.lower() != ".png":
            raise UsageError(f"--out {out}: the sheet is a PNG; give a name ending in .png")
        check_output_file(Path(out), overwrite=overwrite)
    rows, loaded, identities = [], [], []
    for path in runs:
        run = load_run(path)
        loaded.append(run)
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
        rows.append(row)
        identities.append(data_identity(run.record.get("data")))
    warnings = _mismatches(rows, identities)
    if out is not None:
        from mnist_vae.evaluation.compare_sheet import run_samples, save_compare_sheet

        save_compare_sheet(rows, [run_samples(run) for run in loaded], Path(out),
                           warnings=warnings,
                           mixed_data=len(set(identities)) > 1)  # fmt: skip
        click.echo(f"wrote {out}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        return
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    table = Table(title="runs (nats per image; FD, confidence, agreement: mnist-vae evaluate)")
    for column in SHOWN:
        table.add_column(column, justify="left" if column in ("run", "strategy") else "right")
    for row in rows:
        row = {**row, "run": Path(row["run"]).name}
        table.add_row(*(_cell(row[column]) for column in SHOWN))
    console = Console()
    if not console.is_terminal:  # a log or a pipe: full numbers, not 80 squeezed columns
        console = Console(width=160)
    console.print(table)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


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


def _mismatches(rows: list[dict], identities: list[tuple]) -> list[str]:
    """Why some rows' numbers do not compare: other data, or other judges."""
    found = []
    if len(set(identities)) > 1:
        labels = {}
        for row, identity in zip(rows, identities, strict=True):
            labels.setdefault(identity, row["data"])
        found.append(f"these runs were trained and evaluated on different data "
                     f"({', '.join(labels.values())}); their numbers do not "
                     "compare")  # fmt: skip
    judges = sorted({row["judge"] for row in rows if row["FD"] is not None and row["judge"]})
    if len(judges) > 1:
        found.append(f"FD and confidence come from different reference classifiers "
                     f"({', '.join(judges)}); they do not compare")  # fmt: skip
    return found


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)
