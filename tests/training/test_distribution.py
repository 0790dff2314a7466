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
from mnist_vae.training.distribution import describe_distribution, is_chief, make_distribution
from tests.helpers import assert_one_line_error, data_out, invoke, one_line_message

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


@pytest.mark.parametrize(
    ("task", "fragments"),
    [
        (
            {"type": "worker", "index": 2},
            ["task is worker 2", "lists 2 worker task(s)", "indices 0 to 1"],
        ),
        ({"type": "worker", "index": -1}, ["task is worker -1"]),
        ({"type": "worker", "index": "0"}, ["task is worker '0'"]),
        ({"type": "chief", "index": 0}, ["task type 'chief' is not in its cluster"]),
        (None, ["needs a 'task' entry"]),
    ],
)
def test_a_task_outside_its_cluster_is_refused(monkeypatch, task, fragments):
    """A worker index beyond the cluster's list used to wait for peers that never came."""
    cluster = {"worker": ["localhost:12345", "localhost:12346"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    with pytest.raises(UsageError) as refused:
        make_distribution("multiworker")
    one_line_message(refused, "TF_CONFIG", *fragments)


def test_balanced_vaegan_refuses_to_distribute_in_one_line(tmp_path, small_mnist_npz):
    from click.testing import CliRunner

    from mnist_vae.cli.main import cli

    args = [
        "train",
        "--strategy",
        "vaegan",
        "--distribute",
        "mirrored",
        "--epochs",
        "1",
        "--train-size",
        "100",
        "--data",
        str(small_mnist_npz),
        "--out",
        str(tmp_path / "r"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--no-balance" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # mirrored training in processes of their own: make test-all
def test_mirrored_training_on_two_logical_cpus_matches_one_device(tmp_path, small_mnist_npz):
    result = tmp_path / "result.json"
    subprocess.run(
        [
            sys.executable,
            str(HERE / "mirrored_training.py"),
            str(small_mnist_npz),
            str(tmp_path / "runs"),
            str(result),
        ],
        check=True,
        timeout=600,
        env=os.environ.copy(),
    )
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


def _train(*args):
    return invoke("train", *args)


def _train_process(*args) -> list[str]:
    """The command of a ``mnist-vae train`` process: one quiet epoch over 200 images."""
    training = ["--epochs", "1", "--train-size", "200", "--quiet"]
    return [sys.executable, "-m", "mnist_vae.cli.main", "train", *args, *training]


def test_cpu_devices_is_a_positive_count_for_mirrored_only(tmp_path, small_mnist_npz):
    assert TrainConfig(distribute="mirrored", cpu_devices=2).cpu_devices == 2
    assert TrainConfig().cpu_devices is None
    for wrong in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="cpu_devices must be a positive integer"):
            TrainConfig(distribute="mirrored", cpu_devices=wrong)
    with pytest.raises(ConfigError, match="needs --distribute mirrored"):
        TrainConfig(distribute="multiworker", cpu_devices=2)
    options = ["--cpu-devices", 2, "--epochs", 1, "--train-size", 100]
    result = _train(*options, *data_out(small_mnist_npz, tmp_path / "r"))
    assert "--cpu-devices needs --distribute mirrored" in assert_one_line_error(result, 2)
    assert not (tmp_path / "r").exists()


def test_cpu_devices_once_tensorflow_set_up_its_devices_asks_for_a_fresh_process(tmp_path):
    import tensorflow as tf

    devices = len(tf.config.list_logical_devices("CPU"))  # sets them up, if not yet
    result = _train(
        "--distribute", "mirrored", "--cpu-devices", devices + 1, "--out", tmp_path / "r"
    )
    assert "start training in a fresh process" in assert_one_line_error(result, 2)
    assert len(tf.config.list_logical_devices("CPU")) == devices
    assert make_distribution("mirrored", cpu_devices=devices).num_replicas_in_sync == devices


class _Distribution:
    """What describe_distribution reads of a MirroredStrategy."""

    def __init__(self, devices: int) -> None:
        self.num_replicas_in_sync = devices
        names = [f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in range(devices)]
        self.extended = type("Extended", (), {"worker_devices": tuple(names)})()


def test_the_replicas_are_named_and_the_global_batch_must_split_evenly():
    import tensorflow as tf

    assert describe_distribution(_Distribution(2), 400) == [
        "mirrored: 2 replicas on /cpu:0, /cpu:1 (global batch 400 = 200 per replica)"
    ]
    single = describe_distribution(_Distribution(1), 400)
    assert single[0] == "mirrored: 1 replica on /cpu:0 (global batch 400)"
    if not tf.config.list_physical_devices("GPU"):
        assert single[1:] == [
            "one replica: this machine has no GPU; --cpu-devices N splits "
            "the CPU into N logical devices"
        ]
    with pytest.raises(
        UsageError,
        match=r"--batch-size 100 does not split evenly between 3 "
        r"replicas; use a multiple of 3 \(e.g. 99 or 102\)",
    ):
        describe_distribution(_Distribution(3), 100)


@pytest.mark.slow  # a process of its own: make test-all
def test_mirrored_on_a_cpu_split_by_cpu_devices_says_so_and_trains(tmp_path, small_mnist_npz):
    out = tmp_path / "run"
    options = ["--distribute", "mirrored", "--cpu-devices", "2", "--batch-size", "100"]
    command = _train_process(*options, *data_out(small_mnist_npz, out))
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=os.environ.copy()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        "mirrored: 2 replicas on /cpu:0, /cpu:1 (global batch 100 = 50 per replica)"
        in done.stderr.splitlines()
    )
    assert "test negative ELBO" in done.stdout
    config = json.loads((out / "config.json").read_text())
    assert (config["train"]["distribute"], config["train"]["cpu_devices"]) == ("mirrored", 2)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow  # two processes of TensorFlow: make test-all
def test_two_workers_on_loopback_train_and_the_chief_writes_the_run(tmp_path, small_mnist_npz):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    out = tmp_path / "run"
    processes = []
    for index in range(2):
        env = os.environ.copy()
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        )
        options = ["--distribute", "multiworker", "--batch-size", "50"]
        command = _train_process(*options, *data_out(small_mnist_npz, out))
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        processes.append(subprocess.Popen(command, env=env, **pipes))
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-2000:]
    assert "test negative ELBO" in outputs[0][0]  # the chief (worker 0)
    for index, (_, stderr) in enumerate(outputs):
        assert (
            f"multiworker: 2 workers, 2 replicas in all; this task (worker {index}) on "
            "/cpu:0 (global batch 50 = 25 per replica)" in stderr.splitlines()
        )
    assert "the chief writes" in outputs[1][0]
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["distribute"] == "multiworker"
    assert (out / "model.keras").is_file() and not list(tmp_path.glob(".*"))
