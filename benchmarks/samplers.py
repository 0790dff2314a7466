"""Sample quality from the prior and from latent samplers fitted after training.

    python benchmarks/samplers.py runs/samplers/net1-z2 runs/samplers/resconv-z16 \\
        --out benchmarks/results/samplers.json --figure docs/figures/samplers.png

For each run and each sampler (``prior``, ``gmm``, ``second-stage``): the Fréchet
distance and mean confidence of the reference classifier on ``--count`` samples
(the code of ``mnist-vae evaluate``: ``judge_samples``), and the fraction of blank
samples (``mnist_vae.evaluation.metrics.blank_fraction``). Samplers the run has not
got yet are fitted and saved in it, as ``mnist-vae sample --sampler`` does. The
figure shows the first run: its codes with each sampler's draws, and 100 samples each.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mnist_vae.data import load_mnist
from mnist_vae.evaluation.metrics import BLANK_MIN_PIXELS, BLANK_THRESHOLD, blank_fraction
from mnist_vae.evaluation.reference import reference_classifier
from mnist_vae.evaluation.run_evaluation import judge_samples
from mnist_vae.io import write_json_atomic
from mnist_vae.models.latent_samplers import display_name, sample_codes
from mnist_vae.models.sampling import prior_codes, sample_digits
from mnist_vae.runs import load_run
from mnist_vae.runs.figures import INK, save_figure, tile
from mnist_vae.runs.versions import package_versions
from mnist_vae.training.sampler_fitting import run_sampler, training_codes

SAMPLERS = ("prior", "gmm", "second_stage")
VERSION_KEYS = ("mnist-vae", "tensorflow", "keras", "numpy")


def measure(path: Path, data, judge, test_features, count: int, seed: int) -> dict:
    run = load_run(path)
    model = run.load_model()
    row = {
        "run": path.name,
        "command": _train_command(run),
        "test": run.metrics["test"],
        "samplers": {},
    }
    for name in SAMPLERS:
        fitted = run_sampler(run, name, model=model, data=data)
        started = time.perf_counter()
        images = sample_digits(model, count, seed, sampler=fitted)
        numbers = judge_samples(judge, test_features, images)
        numbers["sample_seconds"] = round(time.perf_counter() - started, 1)
        if fitted is not None:
            record = run.sampler_record(name)
            numbers["fit"] = {
                key: value
                for key, value in record.items()
                if key not in ("versions", "created", "fitted_on")
            }
        row["samplers"][display_name(name)] = numbers
        print(
            f"{path.name} {display_name(name)}: FD {numbers['frechet_distance']:.1f}, "
            f"confidence {numbers['sample_confidence']:.3f}, "
            f"blank {100 * numbers['blank_fraction']:.1f}%"
        )
    return row


def _train_command(run) -> str:
    """The run's training command without this machine's paths (data comes from
    MNIST_VAE_DATA or the cache; --out is the run's folder name)."""
    words = run.record.get("command", "").split()
    kept, skip = ["mnist-vae"], False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word in ("--data", "--out"):
            skip = True
            continue
        kept.append(word)
    return " ".join([*kept, "--out", f"runs/samplers/{run.path.name}"])


def figure(path: Path, data, out: Path, seed: int, rows: list[dict]) -> None:
    """Top: the training codes (grey) and 2,000 draws of each sampler; bottom: 100 samples."""
    run = load_run(path)
    model = run.load_model()
    codes = training_codes(run, model, data)
    numbers = next(row for row in rows if row["run"] == path.name)["samplers"]
    plot = Figure(figsize=(13.2, 9.0))
    axes = plot.subplots(2, len(SAMPLERS), gridspec_kw={"height_ratios": [1, 1.15]})
    shown = codes[np.random.default_rng(0).permutation(len(codes))[:5000]]
    for column, name in enumerate(SAMPLERS):
        fitted = run_sampler(run, name, model=model, data=data)
        drawn = (
            prior_codes(model, 2000, seed) if fitted is None else sample_codes(fitted, 2000, seed)
        )
        label = display_name(name)
        top = axes[0, column]
        top.scatter(
            shown[:, 0],
            shown[:, 1],
            s=1,
            c="0.75",
            label=f"training codes ({len(shown):,} of {len(codes):,})",
        )
        top.scatter(drawn[:, 0], drawn[:, 1], s=1, c="tab:red", alpha=0.5, label=f"{label} draws")
        top.set_xlim(-4.5, 4.5)
        top.set_ylim(-4.5, 4.5)
        top.set_aspect("equal")
        top.set_title(f"{label}: 2,000 codes over the training codes", fontsize=10)
        top.legend(loc="upper right", fontsize=8, markerscale=6)
        images = sample_digits(model, 100, seed, sampler=fitted)
        bottom = axes[1, column]
        bottom.imshow(1.0 - tile(np.clip(images, 0, 1), 10, 10), **INK)
        bottom.set_axis_off()
        n = numbers[label]
        bottom.set_title(
            f"{label}: FD {n['frechet_distance']:.1f}, confidence "
            f"{n['sample_confidence']:.2f}, blank {100 * n['blank_fraction']:.1f}%",
            fontsize=10,
        )
    save_figure(plot, out)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()

    data = load_mnist(None)
    judge = reference_classifier(data)
    test_features = judge.features(data.x_test[: args.count])
    real = data.x_train[: args.count] / 255.0
    rows = [measure(path, data, judge, test_features, args.count, args.seed) for path in args.runs]
    command = [
        "python benchmarks/samplers.py",
        *(f"runs/samplers/{p.name}" for p in args.runs),
        f"--count {args.count} --seed {args.seed} --out benchmarks/results/samplers.json",
    ]
    if args.figure is not None:
        command.append("--figure docs/figures/samplers.png")
    result = {
        "what": "sample quality from the prior and from latent samplers fitted to the training "
        "codes (issue item: samplers beyond N(0, I))",
        "command": " ".join(command),
        "sample_seed": args.seed,
        "samples": args.count,
        "sampler_fit_seed": "the run's training seed (0)",
        "metrics": {
            "frechet_distance": f"between the reference classifier's penultimate features of "
            f"the first {args.count} test images and of the samples (as mnist-vae evaluate)",
            "sample_confidence": "the reference classifier's mean top-class probability",
            "blank_fraction": f"samples with fewer than {BLANK_MIN_PIXELS} of 784 pixels above "
            f"{BLANK_THRESHOLD} (the sparsest real MNIST digit has 15)",
        },
        "reference_classifier_test_accuracy": judge.test_accuracy,
        "real_training_images": {
            **judge_samples(judge, test_features, real),
            "blank_fraction": blank_fraction(real),
        },
        "data": "canonical MNIST (MNIST_VAE_DATA)",
        "machine": "2 CPU cores shared with other jobs: seconds are not speed measurements",
        "versions": {key: package_versions().get(key) for key in VERSION_KEYS}
        | {"python": platform.python_version()},
        "rows": rows,
    }
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")
    if args.figure is not None:
        figure(args.runs[0], data, args.figure, args.seed, rows)


if __name__ == "__main__":
    main()
