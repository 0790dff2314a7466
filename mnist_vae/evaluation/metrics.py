"""Sample and reconstruction quality, as plain functions on arrays.

* ``frechet_distance``: the Fréchet distance between two Gaussians fitted to
  feature sets (as in FID, with an MNIST classifier in place of Inception).
* ``reconstruction_errors``: per-pixel squared error and cross-entropy.
"""

from __future__ import annotations

import numpy as np


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
