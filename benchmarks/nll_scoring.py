"""Importance-sampled scoring (``benchmark nll``'s) at a baseline commit against the working tree.

    python benchmarks/nll_scoring.py --json benchmarks/results/nll-scoring.json
    python benchmarks/nll_scoring.py --run runs/mlp-vae --images 200 --repeats 7

Scores the same dynamically binarized test images at K importance samples (5,000, the
benchmark's) with a trained MLP ``vae`` (``--run``; without it, a 1-epoch one on all of
MNIST trained by the baseline, which scores at the same speed as a trained one; a run
written by a newer version may not load in an older one). Each measurement is a subprocess
that imports the package from its tree (``m2_step.TreeFinder``) with the package's own
thread defaults, scores once untimed (tracing), then times one pass over ``--images``
images; repeats alternate which side goes first. Reported: each side's median seconds,
decoder passes per second, the median of the paired ratios, and each side's mean NLL
(the same draws of z on both sides: the numbers should agree to float rounding).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from m2_step import REPO, TreeFinder, baseline_tree, positive_int

BASELINE = "6fcd6bb"


def worker(tree: Path, run: Path, images: Path, samples: int) -> dict:
    """Seconds of one timed scoring pass of ``images`` with ``run``'s model, from ``tree``."""
    sys.meta_path.insert(0, TreeFinder(tree))
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import numpy as np

    import mnist_vae
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
    from mnist_vae.runs import load_run

    loaded = Path(mnist_vae.__file__).resolve()
    if not loaded.is_relative_to(tree.resolve()):
        raise RuntimeError(f"mnist_vae came from {loaded}, not the tree under test")
    model = load_run(run).load_model()
    x = np.load(images)
    iwae_negative_log_likelihood(model, x[:8], samples=samples, seed=1)  # trace
    started = time.perf_counter()
    nll = iwae_negative_log_likelihood(model, x, samples=samples, seed=1)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "mean_nll": float(np.mean(nll)),
        "decoder_passes_per_second": len(x) * samples / seconds,
    }


def test_images(path: Path, count: int) -> str:
    """The first ``count`` test images as ``benchmark nll`` binarizes them; names the data."""
    import numpy as np

    from mnist_vae.data import binarize_test_set, data_label, load_mnist, to_float_images

    data = load_mnist()
    np.save(path, to_float_images(binarize_test_set(data.x_test, "dynamic")[:count]))
    return data_label(data.provenance)


def quick_run(folder: Path, tree: Path) -> Path:
    """A 1-epoch MLP vae on all of MNIST (latent 50, dynamic binarization, batch 100),
    trained by ``tree`` (the baseline's), so that both sides can read its config."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--train",
        str(tree),
        "--run",
        str(folder / "mlp-vae"),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return folder / "mlp-vae"


def train_worker(tree: Path, out: Path) -> None:
    sys.meta_path.insert(0, TreeFinder(tree))
    from mnist_vae.cli.main import cli

    cli(
        [
            "train",
            "--arch",
            "mlp",
            "--latent-dim",
            "50",
            "--binarize",
            "dynamic",
            "--train-size",
            "all",
            "--batch-size",
            "100",
            "--lr",
            "1e-3",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            str(out),
        ],
        standalone_mode=False,
    )


def measure(tree: Path, run: Path, images: Path, samples: int, environment: dict) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(tree),
        "--run",
        str(run),
        "--image-file",
        str(images),
        "--samples",
        str(samples),
    ]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"scoring in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare against")
    parser.add_argument("--run", type=Path, default=None, help="an MLP run to score with")
    parser.add_argument("--images", type=positive_int, default=100, help="test images timed")
    parser.add_argument("--samples", type=positive_int, default=5000, help="K")
    parser.add_argument("--repeats", type=positive_int, default=5, help="paired measurements")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--image-file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--train", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train is not None:
        train_worker(args.train, args.run)
        return
    if args.run is not None and not (args.run / "config.json").is_file():
        parser.error(f"--run {args.run} is not a run directory (no config.json)")
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.run, args.image_file, args.samples)))
        return

    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    }
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nll-scoring-")))
        trees = {"baseline": stack.enter_context(baseline_tree(args.baseline)), "tree": REPO}
        run = args.run or quick_run(scratch, trees["baseline"])
        images = scratch / "images.npy"
        data = test_images(images, args.images)
        repeats = []
        for repeat in range(args.repeats):
            order = list(trees) if repeat % 2 == 0 else list(reversed(trees))
            times = {
                side: measure(trees[side], run, images, args.samples, environment) for side in order
            }
            ratio = times["baseline"]["seconds"] / times["tree"]["seconds"]
            repeats.append({"order": order, "measurements": times, "ratio": ratio})
            print(
                f"repeat {repeat + 1}/{args.repeats}: baseline {times['baseline']['seconds']:.2f}"
                f" s, tree {times['tree']['seconds']:.2f} s: {ratio:.2f}x",
                flush=True,
            )
    medians = {
        side: statistics.median(r["measurements"][side]["seconds"] for r in repeats)
        for side in trees
    }
    speedup = statistics.median(r["ratio"] for r in repeats)
    passes = args.images * args.samples
    results = {
        "benchmark": "nll_scoring",
        "baseline": args.baseline,
        "tree": {"head": head},
        "setting": {
            "arch": "mlp",
            "latent_dim": 50,
            "binarize": "dynamic",
            "images": args.images,
            "samples": args.samples,
            "run": "given" if args.run else "1-epoch mlp vae, all of MNIST",
        },
        "data": data,
        "repeats": repeats,
        "median_seconds": medians,
        "decoder_passes_per_second": {side: passes / s for side, s in medians.items()},
        "speedup_median_of_paired_ratios": speedup,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or None},
    }
    print(
        f"baseline {medians['baseline']:.2f} s, tree {medians['tree']:.2f} s for {passes:,} "
        f"decoder passes: {speedup:.2f}x (median of {args.repeats} paired ratios)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
