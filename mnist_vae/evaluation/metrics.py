"""Sample and reconstruction quality, as plain functions on arrays.

* ``frechet_distance``: the Fréchet distance between two Gaussians fitted to
  feature sets (as in FID, with an MNIST classifier in place of Inception).
* ``reconstruction_errors``: per-pixel squared error and cross-entropy.
* ``blank_fraction``: how many images are blank tiles (fewer than 15 pixels above 0.5;
  no real MNIST image, training or test, has fewer).
"""

from __future__ import annotations

import numpy as np

# A blank tile: fewer than BLANK_MIN_PIXELS of its 784 pixels above BLANK_THRESHOLD. The
# sparsest real MNIST digit (a training "1") has 15 such pixels, the sparsest test one 19.
BLANK_THRESHOLD = 0.5
BLANK_MIN_PIXELS = 15


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets.

    ||mu1 - mu2||^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)), with the last trace taken
    as the sum of square roots of the eigenvalues of sqrt(C1) C2 sqrt(C1), a symmetric
    matrix, which is stable where a general matrix square root is not.
    """
    mu1, mu2 = first.mean(axis=0), second.mean(axis=0)
    c1, c2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    values, vectors = np.linalg.eigh(c1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root1 @ c2 @ root1)
    cross = np.sum(np.sqrt(np.clip(middle, 0, None)))
    distance = float(np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2.0 * cross)
    return max(distance, 0.0)


def reconstruction_errors(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """Mean per-pixel squared error and binary cross-entropy (targets in [0, 1])."""
    clipped = np.clip(reconstructions.astype(np.float64), 1e-7, 1 - 1e-7)
    targets = images.astype(np.float64)
    bce = -(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    return {
        "pixel_mse": float(np.mean((targets - reconstructions) ** 2)),
        "pixel_bce": float(np.mean(bce)),
    }


def blank_fraction(
    images: np.ndarray, threshold: float = BLANK_THRESHOLD, min_pixels: int = BLANK_MIN_PIXELS
) -> float:
    """The fraction of images (N, 28, 28[, 1]) in [0, 1] with fewer than ``min_pixels``
    pixels above ``threshold``: samples decoded from where no training code lives."""
    images = np.asarray(images)
    lit = np.sum(images.reshape(len(images), -1) > threshold, axis=1)
    return float(np.mean(lit < min_pixels))
