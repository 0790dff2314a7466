"""How long the shell waits on ``mnist-vae``: help, and completion on TAB.

    python benchmarks/cli_latency.py --json benchmarks/results/cli-latency.json

Each case is a fresh ``mnist-vae`` process, as the shell starts one: ``--help`` of the
group and of ``train``, and bash completion (Click's ``_MNIST_VAE_COMPLETE``) of a
command name (``mnist-vae tr<TAB>``) and of a registered name (``--arch net<TAB>``).
Medians of ``--repeats`` runs, the cases alternated so that drift in the machine's
load falls on all. The goals: under 0.3 s for a completion, under 1 s for a help, on an
idle machine. The completions' answers are checked, so a fast wrong answer fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name, positive_int
from mnist_vae.io import write_json_atomic

GOALS = {"completion": 0.3, "help": 1.0}


def completion(words: str) -> dict:
    """The environment bash's completion script sets for ``mnist-vae WORDS<TAB>``."""
    parts = words.split(" ")
    return {
        "_MNIST_VAE_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(["mnist-vae", *parts]),
        "COMP_CWORD": str(len(parts)),
    }


CASES = {
    "mnist-vae --help": ("help", ["--help"], {}, "Usage:"),
    "mnist-vae train --help": ("help", ["train", "--help"], {}, "--latent-dim"),
    "mnist-vae tr<TAB>": ("completion", [], completion("tr"), "plain,train"),
    "mnist-vae train --arch net<TAB>": (
        "completion",
        [],
        completion("train --arch net"),
        "plain,net1",
    ),
}


def program() -> list[str]:
    """The installed ``mnist-vae`` beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("mnist-vae")
    if script.exists():
        return [str(script)]
    found = shutil.which("mnist-vae")
    return [found] if found else [sys.executable, "-m", "mnist_vae.cli.main"]


def run_once(arguments: list[str], environment: dict, expected: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*program(), *arguments],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or expected not in done.stdout:
        raise SystemExit(
            f"{arguments or environment['COMP_WORDS']}: unexpected answer "
            f"(exit {done.returncode}): {done.stdout[:200]!r}"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=9, help="runs of each case")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, (_, arguments, environment, expected) in CASES.items():
            times[name].append(run_once(arguments, environment, expected))
    rows = []
    for name, (kind, *_) in CASES.items():
        median = statistics.median(times[name])
        rows.append(
            {
                "case": name,
                "kind": kind,
                "median_seconds": round(median, 3),
                "min_seconds": round(min(times[name]), 3),
                "goal_seconds": GOALS[kind],
                "met": median < GOALS[kind],
            }
        )
        print(f"{name:34} median {median:.3f} s (goal < {GOALS[kind]} s)")
    result = {
        "repeats": args.repeats,
        "rows": rows,
        "load_average": os.getloadavg(),
        "machine": machine_name(),
    }
    if args.json is not None:
        write_json_atomic(args.json, result)  # whole or not at all


if __name__ == "__main__":
    main()
