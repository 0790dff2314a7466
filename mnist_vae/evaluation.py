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


def _batched(fn, images: np.ndarray, labels: np.ndarray | None, batch_size: int) -> np.ndarray:
    """Apply ``fn(float_images, labels)`` to uint8 images in batches, as numpy."""
    outputs = []
    for start in range(0, len(images), batch_size):
        batch_labels = None if labels is None else labels[start : start + batch_size]
        outputs.append(
            np.asarray(fn(to_float_images(images[start : start + batch_size]), batch_labels))
        )
    return np.concatenate(outputs)


def encode_means(
    model, images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 2000
) -> np.ndarray:
    """Posterior means of uint8 images (labels for conditional models)."""
    return _batched(lambda x, y: model.encode(x, y)[0], images, labels, batch_size)


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
    return _batched(model.reconstruct, images, labels, batch_size)[..., 0]
