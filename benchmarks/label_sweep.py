"""Sweep a semi-supervised model's settings at 100 labels, chosen on a validation split.

    python benchmarks/label_sweep.py --alpha 0.1,1,10,46,100 --epochs 50 \
        --json benchmarks/results/m2-alpha-sweep.json
    python benchmarks/label_sweep.py --alpha 46 --labelled-per-batch 10,50,100 --epochs 50 \
        --json benchmarks/results/m2-labelled-rows-sweep.json
    python benchmarks/label_sweep.py --strategy m1_m2 --train-arg=--m1-run=runs/mlp50-m1 ...

Every point of the grid (alpha x labelled rows per batch x seed) trains with
``--train-size 50000``: a seeded, stratified 50,000 of the 60,000 training images
(``select_training_set``), whose labelled set of ``--labels`` images is drawn from them.
The other 10,000 training images are the validation split (Kingma et al. 2014 held out
10,000 of the training images the same way); each point's classifier error is measured
on them. The test set is never read, so the sweep can choose a setting honestly; the
chosen one is then trained on all 60,000 images and scored on the test set.

Runs live in ``--runs/NAME`` and resume when interrupted (run the same command again:
finished points are read back, interrupted ones continue with ``train --resume``). The
JSON is rewritten after every point, so partial sweeps are kept. Each training uses one
thread (``TF_NUM_INTRAOP_THREADS=1``): run two sweeps side by side on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name, positive_int

REPO = Path(__file__).resolve().parent.parent
TRAIN_SIZE = 50_000
COMMON = [
    "--arch",
    "mlp",
    "--latent-dim",
    "50",
    "--batch-size",
    "100",
    "--lr",
    "0.001",
    "--no-figures",
]


def number_list(kind):
    """argparse type: comma-separated values of ``kind``."""

    def parse(text: str) -> list:
        try:
            values = [kind(item) for item in text.split(",") if item.strip()]
        except ValueError:
            message = f"expected comma-separated numbers, got {text!r}"
            raise argparse.ArgumentTypeError(message) from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        return values

    return parse


def point_name(strategy: str, alpha: float, rows: int, epochs: int, seed: int) -> str:
    return f"{strategy}-a{alpha:g}-r{rows}-e{epochs}-s{seed}"


def train_point(args, folder: Path, alpha: float, rows: int, seed: int) -> None:
    """Train (or finish) one point's run; its output goes to ``folder``.log."""
    environment = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    program = [sys.executable, "-m", "mnist_vae.cli.main", "train"]
    stage_left = any(folder.parent.glob(f".{folder.name}.*"))
    if folder.exists() or stage_left:
        command = [*program, "--resume", str(folder)]
    else:
        command = [
            *program,
            "--strategy",
            args.strategy,
            "--labels",
            str(args.labels),
            "--train-size",
            str(TRAIN_SIZE),
            *COMMON,
            "--alpha",
            f"{alpha:g}",
            "--labelled-per-batch",
            str(rows),
            "--epochs",
            str(args.epochs),
            "--seed",
            str(seed),
            *args.train_arg,
            "--out",
            str(folder),
        ]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{folder}.log", "a") as log:
        done = subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        code = done.returncode
        raise SystemExit(f"training {folder.name} failed (exit {code}): see {folder}.log")


def validation_error(folder: Path) -> dict:
    """The run's classifier on the 10,000 training images it never trained on."""
    from mnist_vae.data import load_mnist, to_float_images
    from mnist_vae.runs import load_run

    run = load_run(folder)
    data = load_mnist()
    held_out = held_out_indices(data.x_train, data.y_train, TRAIN_SIZE, run.config.train.seed)
    model = run.load_model()
    images = to_float_images(data.x_train[held_out])
    error = model.extra_test_metrics(images, data.y_train[held_out])["classifier_error"]
    return {
        "validation_images": len(held_out),
        "validation_error": error,
        "train_seconds": run.metrics.get("train_seconds"),
    }


def held_out_indices(images, labels, train_size: int, seed: int):
    """The training images a ``--train-size train_size --seed seed`` run never saw."""
    import numpy as np

    from mnist_vae.data import select_training_set

    chosen = select_training_set(images, labels, train_size, seed)
    return np.setdiff1d(np.arange(len(images)), chosen)


def write_json(path: Path, payload: dict) -> None:
    """Replace ``path`` whole, never leaving half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategy", default="m2", choices=("m2", "m1_m2"))
    parser.add_argument("--labels", type=positive_int, default=100, help="labelled training images")
    parser.add_argument("--alpha", type=number_list(float), default=[0.1])
    parser.add_argument("--labelled-per-batch", type=number_list(int), default=[100])
    parser.add_argument("--seeds", type=number_list(int), default=[0])
    parser.add_argument("--epochs", type=positive_int, default=50)
    parser.add_argument(
        "--train-arg",
        action="append",
        default=[],
        help="a train flag for every point, e.g. --train-arg=--m1-run=RUN",
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/label-sweep"))
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    if "MNIST_VAE_DATA" not in os.environ:
        print(
            "note: MNIST_VAE_DATA is unset; MNIST comes from the default sources", file=sys.stderr
        )
    started = time.time()
    points = []
    grid = itertools.product(args.alpha, args.labelled_per_batch, args.seeds)
    for alpha, rows, seed in grid:
        folder = args.runs / point_name(args.strategy, alpha, rows, args.epochs, seed)
        if not (folder / "model.keras").exists():
            train_point(args, folder, alpha, rows, seed)
        point = {
            "alpha": alpha,
            "labelled_per_batch": rows,
            "seed": seed,
            "run": folder.name,
            **validation_error(folder),
        }
        points.append(point)
        print(json.dumps(point), flush=True)
        write_json(
            args.json,
            {
                "config": {
                    "strategy": args.strategy,
                    "labels": args.labels,
                    "epochs": args.epochs,
                    "train_size": TRAIN_SIZE,
                    "common": COMMON,
                    "train_args": args.train_arg,
                },
                "selection": "validation error on the 10,000 training images outside --train-size",
                "points": points,
                "seconds": round(time.time() - started, 1),
                "machine": machine_name(),
            },
        )


if __name__ == "__main__":
    main()
