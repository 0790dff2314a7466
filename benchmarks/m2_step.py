"""m2's training step (and m1_m2's) at a baseline commit against the working tree.

    python benchmarks/m2_step.py --json benchmarks/results/m2-step.json
    python benchmarks/m2_step.py --strategies m2 --repeats 7 --steps 40

The label-budget setting (``mnist_vae.experiments.label_budget``): ``--arch mlp
--latent-dim 50 --binarize dynamic --labels 100``, batch 100 plus m2's default 100
labelled rows, so every batch has 200 rows, 100 with the label -1; Adam at 1e-3. The
batches are fixed: real training images (MNIST_VAE_DATA or another source), one
dynamic binarization draw, the labelled rows from the seed-0 labelled set of 100.
``m1_m2`` runs on a frozen M1 (the benchmark's ``--m1-run``), here the run's own
untrained mlp VAE with its weights frozen: the step's cost is the same.

With ``--paths``, a third side is the baseline with only those files taken from the
working tree (``change_only``): the change measured alone, when the working tree also
holds other work in progress.

The baseline's code is checked out with ``git worktree`` into a temporary folder. Each
measurement is a subprocess (the same interpreter, environment and TensorFlow thread
settings for both sides) that imports the package from its tree, builds the model,
warms up and times ``--steps`` calls of ``train_on_batch``, printing their median.
Repeats rotate the order of the sides (baseline first, then the tree first, and so on)
so that drift in the machine's load falls on all; the result is the median over repeats
of each side's step time and of the per-repeat ratios baseline / side.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = "8e9275f"
# Where each import root lives in a source tree (pyproject.toml's package-dir).
PACKAGE_DIRS = {"mnist_vae": "mnist_vae", "mnist_vae.zoo": "zoo", "mnist_vae.cli": "cli"}
BATCH, LABELLED_PER_BATCH, LABELS, LATENT, ARCH = 100, 100, 100, 50, "mlp"
BATCHES = 8  # distinct fixed batches, cycled through


class TreeFinder(importlib.abc.MetaPathFinder):
    """Import ``mnist_vae`` (and its zoo and cli roots) from a given source tree.

    First on ``sys.meta_path``, so it wins over the editable install's finder: the
    baseline's ``zoo/`` must not be found in the working tree.
    """

    def __init__(self, tree: Path) -> None:
        self.tree = tree

    def find_spec(self, fullname, path=None, target=None):
        if fullname in PACKAGE_DIRS:
            folder = self.tree / PACKAGE_DIRS[fullname]
            return importlib.util.spec_from_file_location(
                fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
            )
        return None


def positive_int(text: str) -> int:
    """argparse type: a bad count is a usage error, not a traceback later.

    Its own copy of ``mnist_vae.experiments.arguments.positive_int``: the workers run this
    script against a baseline tree, which may predate that module.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


# -- the subprocess: one tree, one strategy ------------------------------------------------


def worker(tree: Path, strategy: str, batches_file: Path, steps: int, warmup: int) -> dict:
    """Median seconds of one ``train_on_batch`` of ``strategy`` built from ``tree``."""
    sys.meta_path.insert(0, TreeFinder(tree))
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import keras
    import numpy as np

    import mnist_vae
    from mnist_vae.models import build_model, model_config

    loaded = Path(mnist_vae.__file__).resolve()
    if not loaded.is_relative_to(tree.resolve()):
        raise RuntimeError(f"mnist_vae came from {loaded}, not the tree under test")
    with np.load(batches_file) as saved:
        batches = [(saved[f"x{i}"], saved[f"y{i}"]) for i in range(BATCHES)]
    keras.utils.set_random_seed(0)
    model = build_model(model_config(ARCH, strategy=strategy, latent_dim=LATENT), seed=0)
    if strategy == "m1_m2":  # M1 frozen, as under --m1-run
        model.m1_encoder.trainable = False
        model.m1_decoder.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    for step in range(warmup):
        model.train_on_batch(*batches[step % BATCHES], return_dict=True)
    times = []
    for step in range(steps):
        images, labels = batches[step % BATCHES]
        started = time.perf_counter()
        logs = model.train_on_batch(images, labels, return_dict=True)  # floats: synchronised
        times.append(time.perf_counter() - started)
    if not all(np.isfinite(value) for value in logs.values()):
        raise RuntimeError(f"non-finite logs {logs}")
    return {
        "median_step_seconds": statistics.median(times),
        "steps": steps,
        "loss": float(logs["loss"]),
    }


# -- the parent: data, the baseline's tree, alternation ---------------------------------------


def fixed_batches(path: Path, seed: int = 0) -> str:
    """Write BATCHES training batches of the label-budget setting to ``path``; name the data."""
    import numpy as np

    from mnist_vae.data import data_label, load_mnist, select_labelled_set, to_float_images
    from mnist_vae.data.pipeline import sampled_binary

    data = load_mnist()
    rng = np.random.default_rng(seed)
    labelled = select_labelled_set(data.x_train, data.y_train, LABELS, seed)
    arrays = {}
    for i in range(BATCHES):
        rows = rng.choice(len(data.x_train), BATCH, replace=False)
        extra = rng.choice(labelled, LABELLED_PER_BATCH, replace=True)
        images = sampled_binary(np.concatenate([data.x_train[rows], data.x_train[extra]]), seed + i)
        arrays[f"x{i}"] = to_float_images(images)
        arrays[f"y{i}"] = np.concatenate([np.full(BATCH, -1), data.y_train[extra]]).astype("int32")
    np.savez(path, **arrays)
    return data_label(data.provenance)  # "MNIST" or a file name and hash: no local path


@contextlib.contextmanager
def baseline_tree(commit: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``commit`` in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="m2-step-baseline-")) / "tree"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(folder), commit],
        check=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)], check=False
        )
        with contextlib.suppress(OSError):
            folder.parent.rmdir()


def overlay(tree: Path, paths: list[str]) -> Path:
    """``tree`` with ``paths`` copied from the working tree (deleted where it has none)."""
    for relative in paths:
        source, target = REPO / relative, tree / relative
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.exists():
            target.unlink()
    return tree


def measure(tree: Path, strategy: str, batches: Path, args, environment: dict) -> dict:
    """One subprocess measurement; its JSON line."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(tree),
        "--strategies",
        strategy,
        "--batches",
        str(batches),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
    ]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{strategy} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare against")
    parser.add_argument("--strategies", default="m2,m1_m2", help="comma-separated")
    parser.add_argument("--repeats", type=positive_int, default=5, help="paired measurements")
    parser.add_argument("--steps", type=positive_int, default=30, help="timed steps per process")
    parser.add_argument("--warmup", type=positive_int, default=5, help="untimed steps first")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="TensorFlow intra-op (and inter-op) threads, both sides",
    )
    parser.add_argument(
        "--paths",
        nargs="*",
        default=[],
        help="also measure the baseline with only these files (relative to "
        "the repository) from the working tree",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]

    if args.worker is not None:
        print(json.dumps(worker(args.worker, strategies[0], args.batches, args.steps, args.warmup)))
        return

    environment = {
        **os.environ,
        "TF_NUM_INTRAOP_THREADS": str(args.threads),
        "TF_NUM_INTEROP_THREADS": str(args.threads),
        "OMP_NUM_THREADS": str(args.threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    environment.pop("PYTHONPATH", None)
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    results: dict = {
        "benchmark": "m2_step",
        "setting": {
            "arch": ARCH,
            "latent_dim": LATENT,
            "binarize": "dynamic",
            "labels": LABELS,
            "batch_size": BATCH,
            "labelled_per_batch": LABELLED_PER_BATCH,
            "rows_per_step": BATCH + LABELLED_PER_BATCH,
            "optimizer": "adam 1e-3",
        },
        "baseline": args.baseline,
        "tree": {"head": head, "uncommitted_changes": dirty},
        "threads": {"intra_op": args.threads, "inter_op": args.threads},
        "repeats": args.repeats,
        "steps_per_process": args.steps,
        "warmup_steps": args.warmup,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or None},
        "strategies": {},
    }
    results["paths_from_working_tree"] = list(args.paths)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="m2-step-")))
        trees = {"baseline": stack.enter_context(baseline_tree(args.baseline)), "tree": REPO}
        if args.paths:
            trees["change_only"] = overlay(
                stack.enter_context(baseline_tree(args.baseline)), args.paths
            )
        batches = scratch / "batches.npz"
        results["data"] = fixed_batches(batches)
        for strategy in strategies:
            repeats = []
            for repeat in range(args.repeats):
                order = list(trees)
                order = order[repeat % len(order) :] + order[: repeat % len(order)]
                times = {
                    side: measure(trees[side], strategy, batches, args, environment)
                    for side in order
                }
                ratios = {
                    side: times["baseline"]["median_step_seconds"]
                    / times[side]["median_step_seconds"]
                    for side in trees
                    if side != "baseline"
                }
                repeats.append({"order": order, "measurements": times, "ratios": ratios})
                print(
                    f"{strategy} repeat {repeat + 1}/{args.repeats}: "
                    + ", ".join(
                        f"{side} {1e3 * times[side]['median_step_seconds']:.1f} ms"
                        for side in trees
                    )
                    + "; baseline / "
                    + ", ".join(f"{side} {ratio:.2f}" for side, ratio in ratios.items()),
                    flush=True,
                )
            medians = {
                side: statistics.median(
                    r["measurements"][side]["median_step_seconds"] for r in repeats
                )
                for side in trees
            }
            speedups = {
                side: statistics.median(r["ratios"][side] for r in repeats)
                for side in trees
                if side != "baseline"
            }
            results["strategies"][strategy] = {
                "median_step_seconds": medians,
                "speedup_median_of_paired_ratios": speedups,
                "repeats": repeats,
            }
            for side, speedup in speedups.items():
                print(
                    f"{strategy}: baseline {1e3 * medians['baseline']:.1f} ms/step, {side} "
                    f"{1e3 * medians[side]:.1f} ms/step: {speedup:.2f}x faster (median of "
                    f"{args.repeats} paired ratios)",
                    flush=True,
                )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
