"""Use an export (from ``mnist-vae export``) the way a server would: TensorFlow only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_vae.errors import RunError, first_line


class ExportedModel:
    """A loaded SavedModel export, with the sampling interface ``mnist-vae sample`` needs."""

    def __init__(self, path: str | Path) -> None:
        from mnist_vae.backend import prepare_backend

        prepare_backend()
        import tensorflow as tf

        self.path = Path(path).expanduser()
        if not (self.path / "saved_model.pb").is_file():
            raise RunError(f"{self.path} is not a SavedModel export (no saved_model.pb)")
        try:
            self.module = tf.saved_model.load(str(self.path))
            metadata = self.module.signatures["metadata"]()
        except Exception as exc:
            raise RunError(
                f"{self.path}: not a loadable mnist-vae export ({first_line(exc)})"
            ) from None
        self.record = json.loads(metadata["config"].numpy().decode())
        self.metrics = json.loads(metadata["metrics"].numpy().decode())
        latent = json.loads(metadata["latent"].numpy().decode())
        self.latent_shape = tuple(
            self.record.get("latent_shape") or [self.record["model"]["latent_dim"]]
        )
        self.conditional = (
            "labels" in self.module.signatures["decode"].structured_input_signature[1]
        )
        size = int(np.prod(self.latent_shape))
        self.digit_means = np.array(
            [np.full(size, np.nan) if m is None else m for m in latent["digit_means"]]
        )

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        import tensorflow as tf

        inputs = {"z": tf.constant(z, tf.float32)}
        if self.conditional:
            inputs["labels"] = tf.constant(labels, tf.int32)
        return self.module.signatures["decode"](**inputs)["images"].numpy()[..., 0]

    def sample(
        self, count: int, seed: int, digit: int | None = None, noise_variance: float = 0.1
    ) -> np.ndarray:
        """The export's own ``sample`` signature, or a digit drawn as ``mnist-vae sample`` does."""
        import tensorflow as tf

        signature = self.module.signatures["sample"]
        seed_tensor = tf.constant(seed, tf.int32)
        if self.conditional:
            labels = np.arange(count) % 10 if digit is None else np.full(count, digit)
            return signature(labels=tf.constant(labels, tf.int32), seed=seed_tensor)[
                "images"
            ].numpy()[..., 0]
        if digit is None:
            return signature(count=tf.constant(count, tf.int32), seed=seed_tensor)[
                "images"
            ].numpy()[..., 0]
        from mnist_vae.models.sampling import class_mean_codes

        codes = class_mean_codes(self.digit_means, digit, count, seed, noise_variance)
        return self.decode(codes.reshape(count, *self.latent_shape))
