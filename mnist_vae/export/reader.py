"""Use an export (from ``mnist-vae export``) the way a server would: TensorFlow only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_vae.errors import RunError, UsageError, first_line


def read_export_record(path: Path) -> tuple[dict, dict, dict]:
    """The run files an mnist-vae export carries as assets, read without running it.

    Refuses a folder that is not one (no run record), before TensorFlow opens it.
    """
    assets = Path(path) / "assets"
    try:
        record, metrics, latent = (
            json.loads((assets / name).read_text())
            for name in ("config.json", "metrics.json", "latent.json")
        )
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or "mnist_vae_run" not in record:
        raise RunError(
            f"{path} is not an mnist-vae export (no run record in assets/); a SavedModel is "
            "a program that runs when opened: open only exports you made or trust"
        )
    return record, metrics, latent


class ExportedModel:
    """A loaded SavedModel export, with the sampling interface ``mnist-vae sample`` needs."""

    def __init__(self, path: str | Path) -> None:
        from mnist_vae.backend import prepare_backend

        prepare_backend()
        import tensorflow as tf

        self.path = Path(path).expanduser()
        if not (self.path / "saved_model.pb").is_file():
            raise RunError(f"{self.path} is not a SavedModel export (no saved_model.pb)")
        # A SavedModel is a program: loading and calling it runs its graph. Look at its
        # files first and open only what mnist-vae export wrote (its run record).
        self.record, self.metrics, latent = read_export_record(self.path)
        try:
            self.module = tf.saved_model.load(str(self.path))
        except Exception as exc:
            raise RunError(
                f"{self.path}: not a loadable mnist-vae export ({first_line(exc)})"
            ) from None
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
        # The latent samplers fitted to the run before it was exported: sample_NAME.
        self.samplers = sorted(
            key[len("sample_") :] for key in self.module.signatures if key.startswith("sample_")
        )

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        import tensorflow as tf

        inputs = {"z": tf.constant(z, tf.float32)}
        if self.conditional:
            inputs["labels"] = tf.constant(labels, tf.int32)
        return self.module.signatures["decode"](**inputs)["images"].numpy()[..., 0]

    def sample(
        self,
        count: int,
        seed: int,
        digit: int | None = None,
        noise_variance: float = 0.1,
        sampler: str | None = None,
    ) -> np.ndarray:
        """The export's own ``sample`` signature, or a digit drawn as ``mnist-vae sample`` does.

        ``sampler`` names a latent sampler exported with the run (its ``sample_NAME``
        signature); ``None`` or ``"prior"`` is the model's prior.
        """
        import tensorflow as tf

        seed_tensor = tf.constant(seed, tf.int32)
        key = None if sampler is None else str(sampler).replace("-", "_")
        if key not in (None, "prior"):
            from mnist_vae.models.latent_samplers import refuse_digit

            refuse_digit(digit)
            if key not in self.samplers:
                have = ", ".join(s.replace("_", "-") for s in self.samplers) or "none"
                raise UsageError(
                    f"{self.path} has no {sampler!r} sampler (exported samplers: {have}); fit it "
                    "with 'mnist-vae sample RUN --sampler NAME', then export the run again"
                )
            return self.module.signatures[f"sample_{key}"](
                count=tf.constant(count, tf.int32), seed=seed_tensor
            )["images"].numpy()[..., 0]
        signature = self.module.signatures["sample"]
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
