"""The four MNIST arrays, checked for shape, dtype and label range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_vae.errors import DataFormatError

KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_HW = (28, 28)


@dataclass(frozen=True)
class MnistArrays:
    """uint8 images (N, 28, 28) and uint8 labels 0..9 (N,), as Keras lays them out."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @classmethod
    def checked(cls, origin: str, **arrays: np.ndarray) -> MnistArrays:
        """Normalise shapes and dtypes, or raise ``DataFormatError`` naming ``origin``."""
        out = {}
        for split in ("train", "test"):
            images = _images(origin, f"x_{split}", arrays[f"x_{split}"])
            labels = _labels(origin, f"y_{split}", arrays[f"y_{split}"])
            if len(images) != len(labels):
                raise DataFormatError(
                    f"{origin}: x_{split} has {len(images)} images but y_{split} "
                    f"has {len(labels)} labels"
                )
            out[f"x_{split}"], out[f"y_{split}"] = images, labels
        return cls(**out)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in KEYS}


def _images(origin: str, key: str, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    elif images.ndim == 2 and images.shape[1] == IMAGE_HW[0] * IMAGE_HW[1]:
        images = images.reshape(-1, *IMAGE_HW)
    if images.ndim != 3 or images.shape[1:] != IMAGE_HW or len(images) == 0:
        raise DataFormatError(
            f"{origin}: {key} has shape {images.shape}, expected (N, 28, 28) 28x28 images"
        )
    if images.dtype != np.uint8:
        raise DataFormatError(
            f"{origin}: {key} has dtype {images.dtype}, expected uint8 pixels 0..255"
        )
    return np.ascontiguousarray(images)


def _labels(origin: str, key: str, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(f"{origin}: {key} has dtype {labels.dtype}, expected integer labels")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataFormatError(
            f"{origin}: {key} has labels from {labels.min()} to {labels.max()}, expected 0..9"
        )
    return labels.astype(np.uint8)
