"""Two ``mnist-vae train`` processes into one --out, twenty times over: one result each time.

The CLI end to end (the locking primitive alone is raced in test_resume.py, in the
default suite). About 10 s per attempt on two cores, so it is marked slow:
``pytest -m slow tests/io/test_concurrent_trains.py``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mnist_vae.io import training_stage_path
from tests.helpers import CLI_SCRIPT, tiny_train_args

pytestmark = [pytest.mark.faults, pytest.mark.slow]

ATTEMPTS = 20


def test_twenty_races_of_two_trains_each_give_one_result_and_one_error(small_mnist_npz, tmp_path):
    for attempt in range(ATTEMPTS):
        out = tmp_path / f"run{attempt}"
        args = tiny_train_args(small_mnist_npz, out, "--arch", "net1", "--seed", attempt)
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", CLI_SCRIPT, *args],
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        results = [(p.wait(), *p.communicate()) for p in processes]
        assert sorted(code for code, _, _ in results) == [0, 1], (attempt, results)
        assert sum("test negative ELBO" in stdout for _, stdout, _ in results) == 1, results
        _, _, stderr = next(result for result in results if result[0] == 1)
        errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and "Traceback" not in stderr, stderr
        assert (out / "model.keras").exists() and not training_stage_path(out).exists()
