"""A run directory: what a training run leaves behind, and how to load it back.

config.json    the RunConfig, data provenance and package versions
model.keras    the trained model (Keras format)
metrics.json   test-set negative ELBO, reconstruction and KL; timings
history.csv    per-epoch training and test metrics
latent.json    each digit's mean latent code (for ``sample --digit``)
figures/       latent.png, reconstructions.png, samples.png, latent_grid.png, loss.png
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.config import RunConfig
from mnist_vae.errors import ConfigError, RunError

RUN_FORMAT = 1
REQUIRED_FILES = ("config.json", "model.keras", "metrics.json", "latent.json")
# Modules that define the Keras classes a saved model may contain.
MODEL_MODULES = ("mnist_vae.model", "mnist_vae.zoo.models")


@dataclass(frozen=True)
class Run:
    """A finished run, loaded from its directory."""

    path: Path
    config: RunConfig
    record: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def versions(self) -> dict[str, str]:
        return self.record.get("versions", {})

    def load_model(self):
        """The trained Keras model (compiled, optimizer state included)."""
        import importlib

        from mnist_vae._lazy import prepare_backend

        prepare_backend()
        import keras

        from mnist_vae.registry import strategies

        strategies.names()  # loads plugins, whose Keras classes a run may contain
        for module in MODEL_MODULES:
            importlib.import_module(module)
        try:
            return keras.saving.load_model(self.path / "model.keras")
        except Exception as exc:
            reason = _first_line(exc)
            reason = reason if len(reason) <= 200 else reason[:200] + "..."
            raise RunError(
                f"{self.path / 'model.keras'} cannot be loaded ({reason}); "
                "is the plugin that defined its model installed?"
            ) from None

    def digit_means(self) -> np.ndarray:
        """Mean latent code of each digit on the training set, shape (10, latent_dim)."""
        latent = _read_json(self.path / "latent.json")
        return np.array(
            [
                np.nan * np.ones(self.config.model.latent_dim) if m is None else m
                for m in latent["digit_means"]
            ],
            dtype=np.float64,
        )

    def history(self) -> dict[str, list[float]]:
        path = self.path / "history.csv"
        if not path.exists():
            return {}
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def load_run(path: str | Path) -> Run:
    """Load a run directory, with a one-line error if it is not a complete run."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise RunError(f"{path} is not a complete mnist-vae run (missing {', '.join(missing)})")
    record = _read_json(path / "config.json")
    try:
        config = RunConfig.from_dict(record)
    except ConfigError as exc:
        raise RunError(f"{path / 'config.json'}: {exc}") from None
    return Run(path=path, config=config, record=record, metrics=_read_json(path / "metrics.json"))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: unreadable JSON ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
