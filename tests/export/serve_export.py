"""Serve an export the way a user without mnist-vae would (run by tests/export/test_export.py).

    python serve_export.py EXPORT_DIR INPUTS.npz OUTPUTS.npz

mnist_vae is made unimportable first, so the export must stand on TensorFlow alone.
"""

import importlib.abc
import sys


class NoMnistVae(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "mnist_vae" or name.startswith("mnist_vae."):
            raise ImportError("mnist_vae is not available in this process")


sys.meta_path.insert(0, NoMnistVae())
try:
    import mnist_vae  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("mnist_vae was importable")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(export: str, inputs: str, outputs: str) -> None:
    signatures = tf.saved_model.load(export).signatures
    given = dict(np.load(inputs))
    images = tf.constant(given["images"])
    labels = {"labels": tf.constant(given["labels"])} if "labels" in given else {}
    result = {}
    encoded = signatures["encode"](images=images, **labels)
    result["mean"] = encoded["mean"].numpy()
    result["log_variance"] = encoded["log_variance"].numpy()
    result["decoded"] = signatures["decode"](z=tf.constant(given["z"]), **labels)["images"].numpy()
    result["reconstructed"] = signatures["reconstruct"](images=images, **labels)["images"].numpy()
    default = signatures["serving_default"](images=images, **labels)
    result["default"] = next(iter(default.values())).numpy()
    draw = labels or {"count": tf.constant(5)}
    for key, seed in (("sample_a", 7), ("sample_b", 7), ("sample_c", 8)):
        result[key] = signatures["sample"](seed=tf.constant(seed), **draw)["images"].numpy()
    result["config"] = np.array(signatures["metadata"]()["config"].numpy().decode())
    np.savez(outputs, **result)


if __name__ == "__main__":
    main(*sys.argv[1:4])
