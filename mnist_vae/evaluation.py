"""Numbers about a trained model on a set of images."""

from __future__ import annotations

import numpy as np

from mnist_vae.config import NUM_CLASSES
from mnist_vae.data import make_dataset, to_float_images


def evaluate_elbo(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> dict:
    """Negative ELBO, reconstruction and KL, in nats per image (one sample of z each)."""
    dataset = make_dataset(images, labels, batch_size)
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    return {name: float(value) for name, value in results.items()}


def encode_means(
    model, images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 2000
) -> np.ndarray:
    """Posterior means of uint8 images (labels for conditional models), batched."""
    return np.concatenate(
        [
            np.asarray(
                model.encode(
                    to_float_images(images[s : s + batch_size]), _slice(labels, s, batch_size)
                )[0]
            )
            for s in range(0, len(images), batch_size)
        ]
    )


def _slice(labels: np.ndarray | None, start: int, size: int) -> np.ndarray | None:
    return None if labels is None else labels[start : start + size]


def digit_means(codes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean latent code of each digit, shape (10, latent_dim); NaN for absent digits."""
    means = np.full((NUM_CLASSES, codes.shape[1]), np.nan, dtype=np.float64)
    for digit in range(NUM_CLASSES):
        members = codes[labels == digit]
        if len(members):
            means[digit] = members.mean(axis=0)
    return means


def reconstruct(
    model, images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 2000
) -> np.ndarray:
    """Deterministic reconstructions (decoded posterior means), float (N, 28, 28)."""
    return np.concatenate(
        [
            np.asarray(
                model.reconstruct(
                    to_float_images(images[s : s + batch_size]), _slice(labels, s, batch_size)
                )
            )[..., 0]
            for s in range(0, len(images), batch_size)
        ]
    )
