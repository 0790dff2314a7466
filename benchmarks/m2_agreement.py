"""Does an M2 run's generative model agree with its classifier, and on which digits?

    python benchmarks/m2_agreement.py runs/m2-a1-r10-e50-s0 runs/m2-a1-r10-e50-s1 \
        --images 2000 --json benchmarks/results/m2-agreement.json

M2 classifies twice: q(y|x), its classifier, and the conditional model's own choice,
argmin_y L(x, y), the label under which the bound on -log p(x, y) is lowest (one draw
of z per label). If the two agree and both are wrong on the same digits, the decoder
does use the label and the two halves settled together on a wrong grouping of some
digit styles (self-training's confirmation); if the decoder ignored y, the bound's
choice would be near chance and the gap between labels small. Reads the first
``--images`` test images: a diagnosis of trained runs, after their test error was read.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np

from mnist_vae.config import NUM_CLASSES

BATCH = 500


def per_label_bounds(model, images: np.ndarray) -> np.ndarray:
    """L(x, y) for every test image and label, [images, NUM_CLASSES] (labels -1: all ten)."""
    rows = []
    for start in range(0, len(images), BATCH):
        terms = model.bound_terms(images[start : start + BATCH])
        bound = np.asarray(terms["row_reconstruction"]) + np.asarray(terms["row_kl"])
        rows.append(bound.reshape(-1, NUM_CLASSES))  # image-major, labels 0..9 (bound_rows)
    return np.concatenate(rows)


def agreement(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Both classifiers' errors on ``images``, how often they agree and their top confusions."""
    bounds = per_label_bounds(model, images)
    classifier = np.concatenate(
        [np.asarray(model.classify(images[s : s + BATCH])) for s in range(0, len(images), BATCH)]
    )
    generative = bounds.argmin(axis=1)
    ordered = np.sort(bounds, axis=1)
    wrong = classifier != labels
    confusions = collections.Counter(
        zip(labels[wrong].tolist(), classifier[wrong].tolist(), strict=True)
    )
    return {
        "images": len(labels),
        "classifier_error": float(np.mean(wrong)),
        "generative_error": float(np.mean(generative != labels)),
        "agreement": float(np.mean(generative == classifier)),
        "median_gap_nats": float(np.median(ordered[:, 1] - ordered[:, 0])),
        "top_confusions": [
            {"true": true, "predicted": predicted, "count": count}
            for (true, predicted), count in confusions.most_common(5)
        ],
    }


def run_agreement(folder: Path, run, images: np.ndarray, labels: np.ndarray) -> dict:
    """``agreement`` of the semi-supervised ``run`` read from ``folder``."""
    from mnist_vae.errors import UsageError

    model = run.load_model()
    if not getattr(model, "semi_supervised", False):
        raise UsageError(f"{folder} is not an m2 or m1_m2 run: it has no classifier q(y|x)")
    return {"run": folder.name, **agreement(model, images, labels)}


def main() -> None:
    from mnist_vae.experiments.arguments import positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--images", type=positive_int, default=2000, help="first test images")
    parser.add_argument("--json", type=Path, help="write the results here as well")
    args = parser.parse_args()
    from mnist_vae.errors import MnistVaeError, UsageError

    try:
        report(args)
    except UsageError as exc:
        parser.error(str(exc))
    except MnistVaeError as exc:
        raise SystemExit(f"error: {exc}") from None


def report(args: argparse.Namespace) -> None:
    """Score every run, print one line each and write the JSON."""
    from mnist_vae.runs import load_run

    runs = [(folder, load_run(folder)) for folder in args.runs]  # a missing run: before the data
    from mnist_vae.data import load_mnist, to_float_images

    data = load_mnist()
    images = to_float_images(data.x_test[: args.images])
    labels = np.asarray(data.y_test[: args.images]).reshape(-1)
    results = [run_agreement(folder, run, images, labels) for folder, run in runs]
    for row in results:
        pairs = ", ".join(
            f"{c['true']}->{c['predicted']} {c['count']}" for c in row["top_confusions"]
        )
        print(
            f"{row['run']}: classifier {row['classifier_error']:.2%}, bound's choice "
            f"{row['generative_error']:.2%}, agree {row['agreement']:.1%}, median gap "
            f"{row['median_gap_nats']:.1f} nats; confusions {pairs}"
        )
    if args.json:
        args.json.write_text(json.dumps({"images": args.images, "runs": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
