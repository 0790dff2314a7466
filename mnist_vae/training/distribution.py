"""Multi-device training with TensorFlow's own distribution strategies.

``mirrored`` copies the model onto every local device (all GPUs, else every logical
CPU device) and splits each global batch between them; ``multiworker`` does the same
across machines described by the ``TF_CONFIG`` environment variable. Gradients are
summed across replicas, so the models scale each replica's mean loss by the number
of replicas (``mnist_vae.models.steps.replica_scaled``); metrics stay per-image averages.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from mnist_vae.config import DISTRIBUTIONS
from mnist_vae.errors import ConfigError, RunError, UsageError


def _mirrored():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def _multiworker():
    import tensorflow as tf

    config = os.environ.get("TF_CONFIG")
    if not config:
        raise UsageError(
            "--distribute multiworker needs TF_CONFIG describing the cluster and this task "
            "(see docs/scaling.md)"
        )
    try:
        json.loads(config)["cluster"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            "TF_CONFIG is not JSON with a 'cluster' entry (see docs/scaling.md)"
        ) from None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:  # TensorFlow already started in this process
        raise RunError(
            f"cannot join the workers: {exc}; start multi-worker training in a fresh process"
        ) from None


FACTORIES: dict[str, Callable] = {"mirrored": _mirrored, "multiworker": _multiworker}


_created: dict[str, object] = {}


def make_distribution(name: str):
    """The ``tf.distribute`` object for ``--distribute NAME``; None for ``none``.

    One per process and name: ones created side by side reuse collective keys, and
    TensorFlow allows only one multi-worker set-up per program. (TensorFlow calls
    these "strategies"; here "strategy" means a training strategy of the zoo.)
    """
    if name == "none":
        return None
    if name not in FACTORIES:
        raise ConfigError(f"distribute must be one of {', '.join(DISTRIBUTIONS)}, got {name!r}")
    if name not in _created:
        _created[name] = FACTORIES[name]()
    return _created[name]


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
