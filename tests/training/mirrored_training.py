"""Train on two logical CPU devices and on one (run by tests/training/test_distribution.py).

    python mirrored_training.py DATA.npz OUT_DIR RESULT.json

Logical devices must be configured before TensorFlow starts, hence a process of its own.
"""

import json
import sys
from pathlib import Path

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from mnist_vae.config import RunConfig, TrainConfig  # noqa: E402
from mnist_vae.models import model_config  # noqa: E402
from mnist_vae.training import train  # noqa: E402

# SGD with momentum: unlike Adam, its step grows with the gradient, so gradients
# summed over replicas without scaling would show in the loss.
# The vae pair compares two epochs' losses; the others need only train and save (finite
# losses, a model file), for which one epoch does.
CASES = {  # name: (strategy, options, distribute, epochs)
    "vae-single": ("vae", {}, "none", 2),
    "vae-mirrored": ("vae", {}, "mirrored", 2),
    "cvae-mirrored": ("cvae", {}, "mirrored", 1),
    "classifier-mirrored": ("classifier", {}, "mirrored", 1),
    "vaegan-mirrored": ("vaegan", {"balance": False}, "mirrored", 1),
}


def main(data: str, out: str, result: str) -> None:
    from mnist_vae.training.distribution import make_distribution

    histories = {"replicas": make_distribution("mirrored").num_replicas_in_sync}
    for name, (strategy, options, distribute, epochs) in CASES.items():
        config = RunConfig(
            model=model_config("net1", strategy=strategy, options=options),
            train=TrainConfig(
                epochs=epochs,
                batch_size=100,
                train_size=400,
                data=data,
                optimizer="sgdm",
                learning_rate=0.001,
                precision="float32",
                distribute=distribute,
                figures=False,
            ),
        )
        run = train(config, Path(out) / name, progress=False, report=lambda message: None)
        histories[name] = {"loss": run.history()["loss"], "test": run.metrics["test"]}
    Path(result).write_text(json.dumps(histories))


if __name__ == "__main__":
    main(*sys.argv[1:])
