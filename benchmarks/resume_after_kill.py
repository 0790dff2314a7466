"""kill -9 in epoch 3 of a 6-epoch run, then ``--resume``: work lost, and the weights.

Trains the same run twice with one seed: once uninterrupted, once killed with SIGKILL
halfway through epoch 3 (after the checkpoint of epoch 2, timed from the previous
epochs) and resumed with ``mnist-vae train --resume``. Records each epoch's
wall time, the seconds of training lost (from the last checkpoint to the kill), the
resumed run's wall time, and whether every saved array (weights and optimizer state)
is bit-equal to the uninterrupted run's. Needs MNIST_VAE_DATA or another data source.

    python benchmarks/resume_after_kill.py --out benchmarks/results/resume-kill9.json
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np

from mnist_vae.io import training_stage_path, write_json_atomic
from mnist_vae.versions import package_versions

CLI = "from mnist_vae.cli.main import cli; cli()"
FLAGS = ["--arch", "net1", "--latent-dim", "2", "--epochs", "6", "--seed", "0", "--quiet"]


def arrays(run: Path) -> dict[str, np.ndarray]:
    """Every array saved in the run's model.keras, by its path in the archive."""
    found: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(run / "model.keras") as archive:
        data = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(data) as handle:
        handle.visititems(
            lambda name, item: (
                found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return found


def checkpointed(out: Path) -> list[int]:
    index = training_stage_path(out) / "checkpoint" / "checkpoint.json"
    try:
        return json.loads(index.read_text())["epochs"]
    except (OSError, ValueError):
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        whole, killed = Path(scratch) / "whole", Path(scratch) / "killed"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", CLI, "train", *FLAGS, "--out", str(whole)],
            check=True,
            capture_output=True,
        )
        whole_seconds = time.perf_counter() - started

        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "train", *FLAGS, "--out", str(killed)],
            stderr=subprocess.PIPE,
        )
        seen: dict[int, float] = {}
        while 2 not in seen:
            for epoch in checkpointed(killed):
                seen.setdefault(epoch, time.perf_counter())
            time.sleep(0.02)
        epoch_seconds = seen[2] - seen.get(1, seen[2])
        time.sleep(epoch_seconds / 2)  # halfway through epoch 3
        process.send_signal(signal.SIGKILL)
        killed_at = time.perf_counter()
        process.wait()
        lost = killed_at - seen[2]

        started = time.perf_counter()
        command = [sys.executable, "-c", CLI, "train", "--resume", str(killed), "--quiet"]
        resumed = subprocess.run(command, check=True, capture_output=True, text=True)
        resume_seconds = time.perf_counter() - started
        ours, theirs = arrays(killed), arrays(whole)
        equal = set(ours) == set(theirs) and all(
            np.array_equal(ours[key], theirs[key]) for key in ours
        )
        results = {
            "what": "kill -9 halfway through epoch 3 of 6, then mnist-vae train --resume",
            "command": "mnist-vae train " + " ".join(FLAGS) + " --out OUT; kill -9; "
            "mnist-vae train --resume OUT",
            "epoch_seconds": round(epoch_seconds, 2),
            "seconds_lost": round(lost, 2),
            "epochs_lost": round(lost / epoch_seconds, 2),
            "uninterrupted_seconds": round(whole_seconds, 1),
            "resume_seconds": round(resume_seconds, 1),
            "resume_message": [
                line.replace(str(killed), "OUT")
                for line in resumed.stderr.splitlines()
                if "resum" in line
            ],
            "saved_arrays": len(ours),
            "bit_equal": bool(equal),
            "versions": package_versions(),
            "machine": "2 CPU cores; wall times, one run at a time",
        }
    write_json_atomic(args.out, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
