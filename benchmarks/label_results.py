"""The semi-supervised models' test error over seeds, and their error against epochs.

    python benchmarks/label_results.py \
        --method "M2=runs/m2-a1-r10-e50-s0,runs/m2-a1-r10-e50-s1,runs/m2-a1-r10-e50-s2" \
        --method "M1+M2, 150 epochs=runs/m1m2-a0.1-r10-e150-s0,..." \
        --json benchmarks/results/label-100-long.json --figure docs/figures/label-100-epochs.png

A method's runs share one number of labels (``--labels`` of their training); the paper's
row is looked up for it (Kingma et al. 2014, Table 1, at 100, 600, 1,000 and 3,000).

Each run's classifier q(y|x) is scored on all 10,000 test images (the test set is read
here, after the settings were chosen on a validation split by ``label_sweep.py``). The
figure draws each run's ``val_classifier_error`` from its history.csv: the error on the
2,000 test images a semi-supervised training watches every epoch, so the curve is a
picture of training, not a second choice of settings.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import statistics
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name
from mnist_vae.io import write_json_atomic

# Kingma et al. 2014, Table 1 (test error %) by number of labels, as docs/benchmarks.md
# quotes it (unconfirmed: the table could not be opened here).
PAPER = {
    "M2": {100: 11.97, 600: 4.94, 1000: 3.60, 3000: 3.92},
    "M1+M2": {100: 3.33, 600: 2.59, 1000: 2.40, 3000: 2.18},
}
GOALS = {"M2": {100: 8.0}, "M1+M2": {100: 5.0}}


def method_runs(text: str) -> tuple[str, list[Path]]:
    """argparse type: ``NAME=RUN,RUN,...``."""
    name, sep, runs = text.partition("=")
    if not sep or not runs.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=RUN,RUN,..., got {text!r}")
    return name.strip(), [Path(run.strip()) for run in runs.split(",") if run.strip()]


def test_error(folder: Path) -> dict:
    """The run's classifier on all 10,000 test images (the model's own batched scoring, as
    its metrics.json has it), and how long it trained."""
    from mnist_vae.data import load_mnist, to_float_images
    from mnist_vae.runs import load_run

    run = load_run(folder)
    data = load_mnist()
    model = run.load_model()
    scores = model.extra_test_metrics(to_float_images(data.x_test), data.y_test)
    return {
        "run": folder.name,
        "seed": run.config.train.seed,
        "labels": run.config.train.labels,
        "test_images": len(data.y_test),
        "test_error": scores["classifier_error"],
        "epochs": run.config.train.epochs,
        "train_seconds": run.metrics.get("train_seconds"),
        "command": typed_command(run.record.get("command") or ""),
    }


def typed_command(command: str) -> str:
    """The recorded command as a user types it, from ``mnist-vae``: no path of the machine
    that trained it."""
    tokens = shlex.split(command)
    start = tokens.index("train") if "train" in tokens else 0
    return shlex.join(["mnist-vae", *tokens[start:]])


def error_curve(folder: Path) -> list[float]:
    """``val_classifier_error`` per epoch, from the run's history.csv."""
    with open(folder / "history.csv") as rows:
        return [float(row["val_classifier_error"]) for row in csv.DictReader(rows)]


def family(name: str) -> str:
    """The method a name is a variant of: ``"M1+M2, 150 epochs"`` is ``"M1+M2"``."""
    return name.split(",")[0].strip()


def budget(runs: list[dict]) -> int:
    """The one number of labels a method's runs share."""
    labels = {run["labels"] for run in runs}
    if len(labels) != 1:
        raise SystemExit(f"one method's runs must share their labels, got {sorted(labels)}")
    return labels.pop()


def summary(name: str, runs: list[dict]) -> dict:
    errors = [100 * run["test_error"] for run in runs]
    labels = budget(runs)
    return {
        "method": name,
        "labels": labels,
        "runs": runs,
        "mean_error_percent": round(statistics.mean(errors), 2),
        "std_error_percent": round(statistics.stdev(errors), 2) if len(errors) > 1 else None,
        "paper_error_percent": PAPER.get(family(name), {}).get(labels),
        "goal_percent": GOALS.get(family(name), {}).get(labels),
    }


def plot(methods: dict[str, list[Path]], labels: list[int], path: Path) -> None:
    """Error against epochs, one colour per method, one line per seed; the paper's line
    where all methods share one budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2))
    drawn = set()
    for index, (name, folders) in enumerate(methods.items()):
        colour = f"C{index}"
        for number, folder in enumerate(folders):
            curve = [100 * value for value in error_curve(folder)]
            label = name if number == 0 else None
            axes.plot(range(1, len(curve) + 1), curve, color=colour, alpha=0.8, label=label)
        paper = PAPER.get(family(name), {}).get(labels[0]) if len(set(labels)) == 1 else None
        if paper is not None and family(name) not in drawn:
            drawn.add(family(name))
            axes.axhline(paper, color=colour, linestyle=":", linewidth=1)
            axes.annotate(
                f"paper {family(name)} {paper}%",
                (1, paper),
                color=colour,
                fontsize=8,
                va="bottom",
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel("test error on 2,000 watched images (%)")
    axes.set_ylim(0, 30)
    budgets = ", ".join(str(count) for count in sorted(set(labels)))
    axes.set_title(f"{budgets} labels: classifier error during training (one line per seed)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", type=method_runs, action="append", required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    methods = dict(args.method)
    from mnist_vae.runs import load_run

    for name, folders in methods.items():  # before any scoring: a usage error, exit 2
        labels = {load_run(folder).config.train.labels for folder in folders}
        if len(labels) != 1 or None in labels:
            parser.error(f"{name}: the runs must share one --labels budget, got {labels}")
    results = [summary(name, [test_error(run) for run in runs]) for name, runs in methods.items()]
    budgets = sorted({result["labels"] for result in results})
    payload = {
        "labels": budgets[0] if len(budgets) == 1 else budgets,
        "methods": results,
        "machine": machine_name(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.json, payload)  # whole or not at all
    for result in results:
        spread = result["std_error_percent"]
        print(
            f"{result['method']} ({result['labels']} labels): "
            f"{result['mean_error_percent']:.2f} ± {spread} % test error"
        )
    if args.figure:
        plot(methods, [result["labels"] for result in results], args.figure)


if __name__ == "__main__":
    main()
