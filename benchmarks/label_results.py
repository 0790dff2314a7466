"""The semi-supervised models' test error over seeds, and their error against epochs.

    python benchmarks/label_results.py \
        --method "M2=runs/m2-a1-r10-e50-s0,runs/m2-a1-r10-e50-s1,runs/m2-a1-r10-e50-s2" \
        --method "M1+M2, 150 epochs=runs/m1m2-a0.1-r10-e150-s0,..." \
        --json benchmarks/results/label-100-long.json --figure docs/figures/label-100-epochs.png

Each run's classifier q(y|x) is scored on all 10,000 test images (the test set is read
here, after the settings were chosen on a validation split by ``label_sweep.py``). The
figure draws each run's ``val_classifier_error`` from its history.csv: the error on the
2,000 test images a semi-supervised training watches every epoch, so the curve is a
picture of training, not a second choice of settings.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
from pathlib import Path

# Kingma et al. 2014, Table 1, 100 labels (test error %), as docs/benchmarks.md quotes it
# (unconfirmed: the table could not be opened here).
PAPER = {"M2": 11.97, "M1+M2": 3.33}
GOALS = {"M2": 8.0, "M1+M2": 5.0}


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


def summary(name: str, runs: list[dict]) -> dict:
    errors = [100 * run["test_error"] for run in runs]
    return {
        "method": name,
        "runs": runs,
        "mean_error_percent": round(statistics.mean(errors), 2),
        "std_error_percent": round(statistics.stdev(errors), 2) if len(errors) > 1 else None,
        "paper_error_percent": PAPER.get(family(name)),
        "goal_percent": GOALS.get(family(name)),
    }


def plot(methods: dict[str, list[Path]], path: Path) -> None:
    """Error against epochs, one colour per method, one line per seed."""
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
        paper = family(name)
        if paper in PAPER and paper not in drawn:
            drawn.add(paper)
            axes.axhline(PAPER[paper], color=colour, linestyle=":", linewidth=1)
            axes.annotate(
                f"paper {paper} {PAPER[paper]}%",
                (1, PAPER[paper]),
                color=colour,
                fontsize=8,
                va="bottom",
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel("test error on 2,000 watched images (%)")
    axes.set_ylim(0, 30)
    axes.set_title("100 labels: classifier error during training (one line per seed)")
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
    results = [summary(name, [test_error(run) for run in runs]) for name, runs in methods.items()]
    payload = {
        "labels": 100,
        "methods": results,
        "machine": platform.processor() or platform.machine(),
    }
    partial = args.json.with_name(f".{args.json.name}.partial")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(partial, args.json)
    for result in results:
        spread = result["std_error_percent"]
        print(f"{result['method']}: {result['mean_error_percent']:.2f} ± {spread} % test error")
    if args.figure:
        plot(methods, args.figure)


if __name__ == "__main__":
    main()
