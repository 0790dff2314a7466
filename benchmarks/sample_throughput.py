"""Sampling throughput: `mnist-vae sample` and an exported SavedModel's `decode`.

    python benchmarks/sample_throughput.py RUN [--count 10000] [--repeats 5]

Three numbers, each the median of --repeats timed calls after one warm-up call:
the Python API (``sample_digits``: prior draws decoded in batches of 1,000, what
`mnist-vae sample` runs), the exported SavedModel's ``decode`` signature on the same
number of codes in one call, and the whole `mnist-vae sample --count N --npy` command
(process start, TensorFlow import and model loading included).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    from mnist_vae.experiments.arguments import positive_int

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--count", type=positive_int, default=10_000)
    parser.add_argument("--repeats", type=positive_int, default=5)
    args = parser.parse_args()
    from mnist_vae.errors import MnistVaeError, UsageError

    try:
        measure(args)
    except UsageError as exc:
        parser.error(str(exc))
    except MnistVaeError as exc:
        raise SystemExit(f"error: {exc}") from None


def measure(args) -> None:

    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import numpy as np
    import tensorflow as tf

    from mnist_vae.export import export_run
    from mnist_vae.models.sampling import sample_digits
    from mnist_vae.runs import load_run

    run = load_run(args.run)
    model = run.load_model()
    rates = {}
    seconds = median_seconds(lambda: sample_digits(model, args.count, 0), args.repeats)
    rates["Python API (sample_digits)"] = args.count / seconds

    with tempfile.TemporaryDirectory() as scratch:
        export = export_run(run, Path(scratch) / "export")
        decode = tf.saved_model.load(str(export)).signatures["decode"]
        codes = tf.constant(
            np.random.default_rng(0).standard_normal((args.count, *model.latent_shape)), tf.float32
        )
        extra = {}
        if model.conditional:
            extra["labels"] = tf.constant(np.arange(args.count) % 10, tf.int32)
        seconds = median_seconds(lambda: decode(z=codes, **extra)["images"].numpy(), args.repeats)
        rates["SavedModel decode"] = args.count / seconds

        out = Path(scratch)
        command = [
            sys.executable,
            "-m",
            "mnist_vae.cli.main",
            "sample",
            str(args.run),
            "--count",
            str(args.count),
            "--cols",
            "100",
            "--overwrite",
            "--out",
            str(out / "s.png"),
            "--npy",
            str(out / "s.npy"),
        ]
        seconds = median_seconds(
            lambda: subprocess.run(command, check=True, capture_output=True), args.repeats
        )
        rates["mnist-vae sample (whole command)"] = args.count / seconds

    shape = tuple(model.latent_shape)
    print(f"{args.count} images from {args.run} (latent shape {shape}), median of {args.repeats}:")
    for name, rate in rates.items():
        print(f"  {name:34s} {rate:10.0f} images/s")


if __name__ == "__main__":
    main()
