"""Multi-device training with TensorFlow's own distribution strategies.

``mirrored`` copies the model onto every local device (all GPUs, else every logical
CPU device) and splits each global batch between them; ``multiworker`` does the same
across machines described by the ``TF_CONFIG`` environment variable. Gradients are
summed across replicas, so the models scale each replica's mean loss by the number
of replicas (``mnist_vae.models.steps.replica_scaled``); metrics stay per-image averages.

TensorFlow shows a CPU as one logical device, so on a machine without GPUs ``mirrored``
has one replica unless ``cpu_devices`` (``--cpu-devices N``) splits the first CPU into
N logical devices first: a way to try the multi-device code path, not a speed-up (the
replicas share the same cores).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from mnist_vae.config import DISTRIBUTIONS
from mnist_vae.errors import ConfigError, RunError, UsageError


def _mirrored(cpu_devices: int | None = None):
    import tensorflow as tf

    if cpu_devices is None and tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def split_cpu(count: int) -> None:
    """Make the first physical CPU ``count`` logical devices (``--cpu-devices``).

    TensorFlow fixes its devices when it first uses them (the first op, or a listing
    of logical devices), after which only the same split can be asked for again.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:  # devices already initialised in this process
        if len(tf.config.list_logical_devices("CPU")) == count:
            return  # already the split asked for (one device: the CPU unsplit)
        raise UsageError(
            f"--cpu-devices {count} cannot split the CPU: TensorFlow has already set up its "
            "devices in this process; start training in a fresh process"
        ) from None


def _multiworker():
    import tensorflow as tf

    config = os.environ.get("TF_CONFIG")
    if not config:
        raise UsageError(
            "--distribute multiworker needs TF_CONFIG describing the cluster and this task "
            "(see docs/scaling.md)"
        )
    try:
        settings = json.loads(config)
        cluster = settings["cluster"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            "TF_CONFIG is not JSON with a 'cluster' entry (see docs/scaling.md)"
        ) from None
    check_task(settings.get("task"), cluster)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:  # TensorFlow already started in this process
        raise RunError(
            f"cannot join the workers: {exc}; start multi-worker training in a fresh process"
        ) from None


def check_task(task: Any, cluster: Any) -> None:
    """TF_CONFIG's ``task`` must name a task of its ``cluster`` (a type it lists and an
    index within that list): else this process would wait for a peer that never comes,
    or stand in for another task."""
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise UsageError(
            "TF_CONFIG's 'cluster' must map each task type to a list of "
            "host:port addresses (see docs/scaling.md)"
        )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise UsageError(
            "TF_CONFIG needs a 'task' entry naming this process, e.g. "
            '{"type": "worker", "index": 0} (see docs/scaling.md)'
        )
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise UsageError(
            f"TF_CONFIG's task type {kind!r} is not in its cluster (which lists "
            f"{', '.join(map(repr, cluster))}); see docs/scaling.md"
        )
    count = len(cluster[kind])
    if not (isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count):
        raise UsageError(
            f"TF_CONFIG's task is {kind} {index!r}, but its cluster lists {count} "
            f"{kind} task(s), indices 0 to {count - 1}; set task.index to one of "
            "them (see docs/scaling.md)"
        )


FACTORIES: dict[str, Callable] = {"mirrored": _mirrored, "multiworker": _multiworker}


_created: dict[str, object] = {}


def make_distribution(name: str, cpu_devices: int | None = None):
    """The ``tf.distribute`` object for ``--distribute NAME``; None for ``none``.

    One per process and name: ones created side by side reuse collective keys, and
    TensorFlow allows only one multi-worker set-up per program. (TensorFlow calls
    these "strategies"; here "strategy" means a training strategy of the zoo.)
    ``cpu_devices`` (``mirrored`` only) first splits the CPU into that many logical
    devices, which the replicas then use (GPUs, if any, are left out); it must come
    before TensorFlow sets up its devices, so a process can ask for one split only.
    """
    if name == "none":
        return None
    if name not in FACTORIES:
        raise ConfigError(f"distribute must be one of {', '.join(DISTRIBUTIONS)}, got {name!r}")
    if cpu_devices is not None:
        if name != "mirrored":
            raise ConfigError(f"--cpu-devices needs --distribute mirrored, not {name}")
        split_cpu(cpu_devices)
    if name not in _created:
        factory = FACTORIES[name]
        _created[name] = factory(cpu_devices) if cpu_devices is not None else factory()
    return _created[name]


def _short_device(name: str) -> str:
    """``/job:localhost/replica:0/task:0/device:CPU:1`` as ``/cpu:1``."""
    kind, _, index = name.rpartition("device:")[2].rpartition(":")
    return f"/{kind.lower()}:{index}" if kind else name


def describe_distribution(distribution, batch_size: int) -> list[str]:
    """What training will run on, as lines for the run's output; the batch checked.

    ``mirrored: 2 replicas on /cpu:0, /cpu:1 (global batch 400 = 200 per replica)``,
    and a hint for one replica on a machine without GPUs. A global batch the
    replicas cannot share equally is a usage error: each replica's mean loss is
    weighted alike (``replica_scaled``), which is right only for equal shares.
    """
    import tensorflow as tf

    replicas = distribution.num_replicas_in_sync
    if batch_size % replicas:
        lower = batch_size - batch_size % replicas
        choices = f"{lower} or {lower + replicas}" if lower else f"{replicas}"
        raise UsageError(
            f"--batch-size {batch_size} does not split evenly between {replicas} replicas; "
            f"use a multiple of {replicas} (e.g. {choices})"
        )
    devices = [_short_device(name) for name in distribution.extended.worker_devices]
    count = f"{replicas} replica{'s' if replicas != 1 else ''}"
    batch = f"global batch {batch_size}" + (
        f" = {batch_size // replicas} per replica" if replicas > 1 else ""
    )
    if not isinstance(distribution, tf.distribute.MultiWorkerMirroredStrategy):
        lines = [f"mirrored: {count} on {', '.join(devices)} ({batch})"]
        if replicas == 1 and not tf.config.list_physical_devices("GPU"):
            lines.append(
                "one replica: this machine has no GPU; --cpu-devices N splits the "
                "CPU into N logical devices"
            )
        return lines
    resolver = distribution.cluster_resolver
    cluster = resolver.cluster_spec().as_dict()
    workers = sum(len(cluster.get(job, ())) for job in ("chief", "worker"))
    task = f"{resolver.task_type} {resolver.task_id}"
    return [
        f"multiworker: {workers} workers, {count} in all; this task ({task}) on "
        f"{', '.join(devices)} ({batch})"
    ]


def is_chief(distribution) -> bool:
    """Whether this process writes the run (always, except non-chief multi-worker tasks)."""
    if distribution is None:
        return True
    resolver = getattr(distribution, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs
    )
