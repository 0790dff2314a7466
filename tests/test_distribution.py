"""tf.distribute: mirrored training on two logical CPUs, and two workers on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_vae.config import TrainConfig
from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.training.distribution import is_chief, make_distribution

HERE = Path(__file__).parent


def test_distribute_names_are_checked():
    with pytest.raises(ConfigError, match="distribute must be one of"):
        TrainConfig(distribute="horovod")
    assert make_distribution("none") is None and is_chief(None)


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="needs TF_CONFIG"):
        make_distribution("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UsageError, match="not JSON"):
        make_distribution("multiworker")


def test_balanced_vaegan_refuses_to_distribute_in_one_line(tmp_path, small_mnist_npz):
    from click.testing import CliRunner

    from mnist_vae.cli.main import cli

    args = ["train", "--strategy", "vaegan", "--distribute", "mirrored", "--epochs", "1",
            "--train-size", "100", "--data", str(small_mnist_npz),
            "--out", str(tmp_path / "r")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--no-balance" in result.output
    assert not (tmp_path / "r").exists()


def test_mirrored_training_on_two_logical_cpus_matches_one_device(tmp_path, small_mnist_npz):
    result = tmp_path / "result.json"
    subprocess.run(
        [sys.executable, str(HERE / "mirrored_training.py"), str(small_mnist_npz),
         str(tmp_path / "runs"), str(result)],
        check=True, timeout=600, env=os.environ.copy(),
    )  # fmt: skip
    histories = json.loads(result.read_text())
    assert histories["replicas"] == 2
    single, mirrored = histories["vae-single"], histories["vae-mirrored"]
    # Same global batches and initial weights; only the sampling noise is drawn per
    # replica. Unscaled replica gradients (the classic bug) would double every step.
    for a, b in zip(single["loss"], mirrored["loss"], strict=True):
        assert abs(a - b) < 0.01 * a  # measured 0.25%; unscaled gradients: 7% and 20%
    assert single["loss"][1] < single["loss"][0] and mirrored["loss"][1] < mirrored["loss"][0]
    for name in ("cvae-mirrored", "classifier-mirrored", "vaegan-mirrored"):
        assert all(value == value for value in histories[name]["loss"]), name  # finite
        assert (tmp_path / "runs" / name / "model.keras").is_file()


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_loopback_train_and_the_chief_writes_the_run(tmp_path, small_mnist_npz):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    out = tmp_path / "run"
    processes = []
    for index in range(2):
        env = os.environ.copy()
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        command = [sys.executable, "-m", "mnist_vae.cli.main", "train", "--distribute",
                   "multiworker", "--epochs", "1", "--train-size", "200", "--batch-size", "50",
                   "--data", str(small_mnist_npz), "--out", str(out), "--quiet"]  # fmt: skip
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        processes.append(subprocess.Popen(command, env=env, **pipes))
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-2000:]
    assert "test negative ELBO" in outputs[0][0]  # the chief (worker 0)
    assert "the chief writes" in outputs[1][0]
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["distribute"] == "multiworker"
    assert (out / "model.keras").is_file() and not list(tmp_path.glob(".*"))
