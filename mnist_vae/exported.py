"""Use an export (from ``mnist-vae export``) the way a server would: TensorFlow only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_vae.errors import RunError, UsageError


class ExportedModel:
    """A loaded SavedModel export, with the sampling interface ``mnist-vae sample`` needs."""

    def __init__(self, path: str | Path) -> None:
        from mnist_vae._lazy import prepare_backend

        prepare_backend()
        import tensorflow as tf

        self.path = Path(path).expanduser()
        if not (self.path / "saved_model.pb").is_file():
            raise RunError(f"{self.path} is not a SavedModel export (no saved_model.pb)")
        try:
            self.module = tf.saved_model.load(str(self.path))
            metadata = self.module.signatures["metadata"]()
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise RunError(f"{self.path}: not a loadable mnist-vae export ({reason})") from None
        self.record = json.loads(metadata["config"].numpy().decode())
        self.metrics = json.loads(metadata["metrics"].numpy().decode())
        latent = json.loads(metadata["latent"].numpy().decode())
        self.latent_dim = int(self.record["model"]["latent_dim"])
        self.conditional = (
            "labels" in self.module.signatures["decode"].structured_input_signature[1]
        )
        self.digit_means = np.array(
            [np.full(self.latent_dim, np.nan) if m is None else m for m in latent["digit_means"]]
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
        if np.isnan(self.digit_means[digit]).any():
            raise UsageError(f"no mean latent code is known for digit {digit}")
        noise = np.random.default_rng(seed).standard_normal((count, self.latent_dim))
        return self.decode(
            (self.digit_means[digit] + np.sqrt(noise_variance) * noise).astype("float32")
        )
