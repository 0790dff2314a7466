"""Seeded, stratified subsets of a labelled image set, chosen by content.

The choice and order depend only on the pixels and the seed, never on where the
images sit in the array, so every MNIST source gives the same subset.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mnist_vae.config import NUM_CLASSES
from mnist_vae.errors import ConfigError


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


def select_labelled_set(images: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` images, ``size / NUM_CLASSES`` of each class: the labelled set.

    A semi-supervised run keeps the labels of these images only. Each class's images
    with the lowest seeded content keys (``content_keys``) are chosen, in key order, so
    the choice depends only on the pixels and the seed, never on the source or the
    order of the arrays. These are the same keys ``select_training_set`` uses with the
    same seed, which makes the labelled sets nest: drawn from a stratified training
    subset with at least ``size / NUM_CLASSES`` images of each class, they are the
    labelled set of the whole training set.

    Raises ``ConfigError`` (one line) if ``size`` is not a positive multiple of
    ``NUM_CLASSES`` or some class has fewer than ``size / NUM_CLASSES`` images.
    """
    if not (isinstance(size, (int, np.integer)) and size > 0 and size % NUM_CLASSES == 0):
        raise ConfigError(
            f"labels must be a positive multiple of the {NUM_CLASSES} classes "
            f"(the labelled set is balanced over them), got {size!r}"
        )
    per_class = size // NUM_CLASSES
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0], minlength=NUM_CLASSES)[:NUM_CLASSES]
    if counts.min() < per_class:
        short = int(np.argmin(counts))
        raise ConfigError(
            f"labels {size} needs {per_class} images of each class; class "
            f"{short} has only {counts[short]} in the {len(images)} training "
            "images"
        )
    keys = content_keys(images, seed)
    chosen = []
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(labels == digit)
        chosen.append(members[np.argsort(keys[members], kind="stable")[:per_class]])
    picked = np.concatenate(chosen)
    return picked[np.argsort(keys[picked], kind="stable")]
