"""Is this canonical MNIST? Checked by hashes of the arrays' raw bytes.

``ARRAY_SHA256`` is the official order (as Keras and the mirror deliver it).
TFDS stores the same examples in its own shuffled order, so sources that may
reorder are checked with ``multiset_sha256`` instead: a hash of the sorted
per-example hashes, which does not depend on order.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mnist_vae.data.sources.arrays import MnistArrays

ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
MULTISET_SHA256 = {
    "train": "3655811c0e1223700a4714a92a51f55bd215ed7dc1fa2baa4326a2b58042d82d",
    "test": "634538fb34c5277fce98470b8b285d1e8419eb87f328da42ef1faf690d2c3911",
}


def array_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def example_digests(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    """sha256(label byte + image bytes) for each example."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.uint8)
    return [
        hashlib.sha256(bytes([int(y)]) + row.tobytes()).digest()
        for row, y in zip(flat, labels, strict=True)
    ]


def multiset_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(b"".join(sorted(example_digests(images, labels)))).hexdigest()


def mismatched_arrays(arrays: MnistArrays) -> list[str]:
    """Names of the arrays that differ from canonical MNIST in official order."""
    return [
        key for key, digest in ARRAY_SHA256.items() if array_sha256(getattr(arrays, key)) != digest
    ]


def is_canonical(arrays: MnistArrays) -> bool:
    return not mismatched_arrays(arrays)


def is_canonical_any_order(arrays: MnistArrays) -> bool:
    return all(
        multiset_sha256(getattr(arrays, f"x_{split}"), getattr(arrays, f"y_{split}")) == digest
        for split, digest in MULTISET_SHA256.items()
    )
