"""Progress as a user at a terminal sees it: each long command run in a pseudo-terminal.

CliRunner's output is not a terminal, so these run the installed command in a
pseudo-terminal, where progress must draw a live bar, and where no TensorFlow
warning (retracing, oneDNN notices, absl logging) may reach the screen.
"""

from __future__ import annotations

import errno
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_vae.data.loading import ENV_VAR

BAR = "━"  # rich's bar segment: drawn only by a live display
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NOISE = ("WARNING", "tensorflow", "retracing", "oneDNN", "absl", "Traceback")


def in_terminal(args: list[str], env: dict[str, str], timeout: float = 240) -> tuple[int, str]:
    """Run ``mnist-vae ARGS`` with a pseudo-terminal as its stdin, stdout and stderr."""
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "mnist_vae.cli.main", *args]
    process = subprocess.Popen(
        command, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def terminal_env(small_mnist_npz, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("terminal-home")
    env = {key: value for key, value in os.environ.items() if key != "MNIST_VAE_DEBUG"}
    env.update(
        {
            ENV_VAR: str(small_mnist_npz),
            "KERAS_HOME": str(home / ".keras"),
            "TFDS_DATA_DIR": str(home / "tfds"),
            "TERM": "xterm-256color",
            "COLUMNS": "100",
            "LINES": "40",
        }
    )
    return env


def assert_progress_without_noise(output: str, *expected: str) -> None:
    assert BAR in output, output[-2000:]
    text = ANSI.sub("", output)
    for fragment in expected:
        assert fragment in text, text[-2000:]
    noise = [line for line in text.splitlines() if any(word in line for word in NOISE)]
    assert noise == []


@pytest.fixture(scope="module")
def trained(terminal_env, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("terminal") / "run"
    training = ["--arch", "net1", "--epochs", "2", "--train-size", "600", "--seed", "0"]
    code, output = in_terminal(["train", *training, "--out", str(out)], terminal_env)
    assert code == 0, ANSI.sub("", output)[-2000:]
    return out, output


def test_train_draws_a_live_bar_and_no_tensorflow_warning(trained):
    _, output = trained
    assert_progress_without_noise(output, "epoch 2/2")


@pytest.mark.slow  # evaluate's progress: test_progress
def test_evaluate_draws_a_live_bar_and_no_tensorflow_warning(trained, terminal_env):
    run, _ = trained
    code, output = in_terminal(
        ["evaluate", str(run), "--iw-samples", "20", "--samples", "200"], terminal_env
    )
    assert code == 0, ANSI.sub("", output)[-2000:]
    assert_progress_without_noise(output)


@pytest.mark.slow  # the other live-bar tests cover the terminal path
def test_a_large_sample_draws_a_live_bar_and_no_tensorflow_warning(trained, terminal_env, tmp_path):
    run, _ = trained
    code, output = in_terminal(
        [
            "sample",
            str(run),
            "--count",
            "3000",
            "--cols",
            "60",
            "--out",
            str(tmp_path / "many.png"),
        ],
        terminal_env,
    )
    assert code == 0, ANSI.sub("", output)[-2000:]
    assert_progress_without_noise(output)
    assert (tmp_path / "many.png").is_file()


@pytest.fixture(scope="module")
def full_data_env(terminal_env) -> dict[str, str]:
    """The terminal environment with all of MNIST (read before tests hide the variable).

    The quick benchmarks train on the full training set; on the 600-image slice each
    model's fit is one compiled call, and TensorFlow counts the tracing of each new
    model's functions as retracing.
    """
    env = dict(terminal_env)
    env.pop(ENV_VAR)
    if os.environ.get(ENV_VAR):
        env[ENV_VAR] = os.environ[ENV_VAR]
    return env


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["nll", "augment"])
def test_quick_benchmarks_draw_a_live_bar_and_no_tensorflow_warning(
    benchmark, full_data_env, tmp_path
):
    code, output = in_terminal(
        ["benchmark", benchmark, "--quick", "--out", str(tmp_path / benchmark)], full_data_env
    )
    assert code == 0, ANSI.sub("", output)[-2000:]
    assert_progress_without_noise(output, "left")  # the whole benchmark's time left


def test_export_to_tflite_draws_a_live_bar_and_no_tensorflow_warning(
    trained, terminal_env, tmp_path
):
    run, _ = trained
    code, output = in_terminal(
        ["export", str(run), "--format", "tflite", "--out", str(tmp_path / "exported")],
        terminal_env,
    )
    assert code == 0, ANSI.sub("", output)[-2000:]
    assert (tmp_path / "exported" / "model.tflite").is_file()
    assert "exporting run (tflite)" in ANSI.sub("", output) or BAR in output
    noise = [
        line for line in ANSI.sub("", output).splitlines() if any(word in line for word in NOISE)
    ]
    assert noise == []
