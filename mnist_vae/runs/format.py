"""A run directory: what a training run leaves behind, written and read here only.

config.json    the RunConfig, data provenance (class names among it) and package versions
model.keras    the trained model (Keras format)
metrics.json   test-set negative ELBO, reconstruction and KL; timings; evaluations
history.csv    per-epoch training and test metrics
latent.json    each class's mean latent code (for ``sample --class``)
figures/       latent.png, reconstructions.png, samples.png, loss.png, and as the model
               allows latent_grid.png, traversals.png, interpolations.png, digits_by_style.png
samplers/NAME/ latent samplers fitted after training (``sample --sampler NAME``):
               sampler.json (what, when, on which codes) and the sampler's own files
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.config import NUM_CLASSES, RunConfig
from mnist_vae.errors import ConfigError, RunError, first_line
from mnist_vae.io import staged_dir, write_json_atomic
from mnist_vae.versions import package_versions

RUN_FORMAT = 1
REQUIRED_FILES = ("config.json", "model.keras", "metrics.json", "latent.json")
SAMPLERS_FOLDER = "samplers"
SAMPLER_RECORD = "sampler.json"
DIGIT_NAMES = tuple(str(label) for label in range(NUM_CLASSES))


def recorded_class_names(record: dict[str, Any]) -> tuple[str, ...]:
    """The class names a run's config.json (or an export's copy) records for its data.

    Runs from before class names were recorded, or with a damaged entry: "0" to "9".
    """
    names = (record.get("data") or {}).get("class_names")
    if (
        isinstance(names, list)
        and len(names) == NUM_CLASSES
        and all(isinstance(name, str) and name for name in names)
    ):
        return tuple(names)
    return DIGIT_NAMES


def recorded_digits(record: dict[str, Any]) -> bool:
    """Whether a run's classes are digits: as recorded, else unless its data was recorded
    as other than canonical MNIST (runs from before the flag)."""
    data = record.get("data") or {}
    if isinstance(data.get("digits"), bool):
        return data["digits"]
    return data.get("canonical_mnist") is not False


@dataclass(frozen=True)
class Run:
    """A finished run, loaded from its directory."""

    path: Path
    config: RunConfig
    record: dict[str, Any]
    metrics: dict[str, Any]
    # The folder and model file as loaded (``run_identity``): told apart from a run that
    # replaced them since (``check_unchanged``).
    identity: tuple[int, ...] | None = field(default=None, compare=False, repr=False)

    def check_unchanged(self) -> None:
        """A RunError when the run was replaced since it was loaded (a ``train --overwrite``
        meanwhile): what was measured of the old model must not land in the new run."""
        if self.identity is not None and run_identity(self.path) != self.identity:
            raise RunError(
                f"{self.path} was replaced while this ran (a 'train --overwrite'?); the "
                "result is of the run as it was, so nothing was written into the new one: "
                "run the command again"
            )

    @property
    def versions(self) -> dict[str, str]:
        return self.record.get("versions", {})

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the ten classes of its training data, in label order."""
        return recorded_class_names(self.record)

    @property
    def digits(self) -> bool:
        """Whether its classes are the digits 0-9 (MNIST, or data named so)."""
        return recorded_digits(self.record)

    @property
    def class_noun(self) -> str:
        """``digit`` or ``class``: what its messages and figures call one class."""
        return "digit" if self.digits else "class"

    def load_model(self):
        """The trained Keras model, compiled (optimizer state included, but for a shipped model)."""
        from mnist_vae.backend import prepare_backend
        from mnist_vae.registry import load_registrations

        prepare_backend()
        import keras

        load_registrations()  # the zoo's and plugins' Keras classes a model may contain
        path = self.path / "model.keras"
        if not zipfile.is_zipfile(path):  # truncated or overwritten: not a plugin matter
            raise RunError(
                f"{path} is damaged (not a complete .keras archive); retrain the run "
                "or restore the file from a backup"
            )
        try:
            model = keras.saving.load_model(path)
        except Exception as exc:
            message = first_line(exc)
            if "Could not locate" in message or "Unknown" in message:
                raise RunError(
                    f"{path} needs a class that is not registered ({message}); is the plugin "
                    "that defined its model installed?"
                ) from None
            raise RunError(f"{path} cannot be loaded ({message})") from None
        if not model.compiled:  # a shipped model: no optimizer state (runs/compact.py)
            model.compile()
        return model

    def digit_means(self) -> np.ndarray:
        """Mean latent code of each class on the training set, shape (10, code size)."""
        latent = _read_json(self.path / "latent.json")
        size = int(np.prod(self.record.get("latent_shape") or [self.config.model.latent_dim]))
        return np.array(
            [np.full(size, np.nan) if m is None else m for m in latent["digit_means"]],
            dtype=np.float64,
        )

    def history(self) -> dict[str, list[float]]:
        path = self.path / "history.csv"
        if not path.exists():
            return {}
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}

    def add_metrics(self, key: str, values: dict[str, Any]) -> None:
        """Record ``values`` under ``key`` in metrics.json (e.g. an evaluation)."""
        self.check_unchanged()
        metrics = _read_json(self.path / "metrics.json")
        metrics[key] = values
        write_json_atomic(self.path / "metrics.json", metrics)

    # -- latent samplers fitted after training ------------------------------------------

    def sampler_path(self, name: str) -> Path:
        """The folder of the latent sampler ``name`` (a registry key such as ``gmm``)."""
        return self.path / SAMPLERS_FOLDER / name

    def fitted_samplers(self) -> list[str]:
        """The names of the samplers fitted and saved so far, sorted."""
        folder = self.path / SAMPLERS_FOLDER
        if not folder.is_dir():
            return []
        return sorted(
            p.name
            for p in folder.iterdir()
            if not p.name.startswith(".") and (p / SAMPLER_RECORD).is_file()
        )

    def save_sampler(self, name: str, sampler, *, overwrite: bool = False) -> Path:
        """Write a fitted sampler to ``samplers/NAME`` whole or not at all; returns the folder.

        ``sampler.json`` (written last) records what it is and what it was fitted on.
        """
        self.check_unchanged()
        folder = self.sampler_path(name)
        with staged_dir(folder, overwrite=overwrite, kind="sampler") as stage:
            sampler.save(stage)
            write_json_atomic(
                stage / SAMPLER_RECORD,
                {
                    "sampler": name,
                    "fitted_on": "posterior means (model.encode) of the run's training images",
                    **sampler.describe(),
                    "versions": package_versions(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
            )
        return folder

    def sampler_record(self, name: str) -> dict[str, Any]:
        """``samplers/NAME/sampler.json``."""
        return _read_json(self.sampler_path(name) / SAMPLER_RECORD)

    def load_sampler(self, name: str):
        """The saved latent sampler ``name``, as its registered class loads it."""
        from mnist_vae.registry import samplers

        if name not in self.fitted_samplers():
            raise RunError(f"{self.path}: no fitted sampler {name!r} in {SAMPLERS_FOLDER}/")
        return samplers.get(self.sampler_record(name)["sampler"]).load(self.sampler_path(name))


def write_run_files(
    folder: Path,
    *,
    config: RunConfig,
    data: dict[str, Any],
    metrics: dict[str, Any],
    class_means: np.ndarray,
    latent_shape: tuple[int, ...],
    command: str | None = None,
) -> None:
    """The JSON files of a run (the model and figures are saved by their owners).

    config.json is written last: a folder without it is not a run.
    """
    write_json_atomic(
        folder / "latent.json",
        {"digit_means": [None if np.isnan(m).any() else m.tolist() for m in class_means]},
    )
    write_json_atomic(folder / "metrics.json", metrics)
    write_json_atomic(
        folder / "config.json",
        {
            "mnist_vae_run": RUN_FORMAT,
            **config.to_dict(),
            "latent_shape": list(latent_shape),
            "data": data,
            "versions": package_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": command or " ".join(sys.argv),
        },
    )


def load_run(path: str | Path) -> Run:
    """Load a run directory, with a one-line error if it is not a complete run.

    ``pretrained:NAME`` opens a model shipped with the package (its checked copy under
    KERAS_HOME: ``mnist_vae.runs.pretrained``).
    """
    from mnist_vae.runs.pretrained import is_pretrained, run_path

    path = run_path(path) if is_pretrained(path) else Path(path).expanduser()
    if not path.is_dir():
        from mnist_vae.io import in_use, training_stage_path

        stage = training_stage_path(path)
        if stage.is_dir() and in_use(stage):
            raise RunError(
                f"{path} is not finished: it is training now (another mnist-vae process is "
                f"writing {stage.name}); wait for it, or score its newest checkpoint "
                f"meanwhile with 'mnist-vae benchmark nll --run {path}'"
            )
        if stage.is_dir():
            raise RunError(
                f"{path} is not finished: its training was interrupted; "
                f"'mnist-vae train --resume {path}' finishes it, and 'mnist-vae benchmark nll "
                f"--run {path}' scores its newest checkpoint meanwhile"
            )
        raise RunError(f"{path}: no such run directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise RunError(f"{path} is not a complete mnist-vae run (missing {', '.join(missing)})")
    record = _read_json(path / "config.json")
    written = record.get("mnist_vae_run", RUN_FORMAT)
    if not isinstance(written, int) or written > RUN_FORMAT:
        made_by = record.get("versions", {}).get("mnist-vae", "a newer version")
        raise RunError(
            f"{path} is a run of format {written!r} (mnist-vae {made_by}); this mnist-vae "
            f"reads format {RUN_FORMAT} and older: upgrade mnist-vae to open it"
        )
    try:
        config = RunConfig.from_dict(record)
    except ConfigError as exc:
        raise RunError(f"{path / 'config.json'}: {exc}") from None
    metrics = _read_json(path / "metrics.json")
    return Run(
        path=path, config=config, record=record, metrics=metrics, identity=run_identity(path)
    )


def run_identity(path: Path) -> tuple[int, ...] | None:
    """The run folder's and its model file's identity: a run written in its place (renamed
    in whole, as every run is) has another."""
    try:
        folder, model = os.stat(path), os.stat(Path(path) / "model.keras")
    except OSError:
        return None
    return (folder.st_dev, folder.st_ino, model.st_ino, model.st_mtime_ns, model.st_size)


def _read_json(path: Path) -> dict[str, Any]:
    """A run's JSON record, which is always an object: anything else is a damaged run."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: unreadable JSON ({first_line(exc)})") from None
    if not isinstance(record, dict):
        raise RunError(
            f"{path} holds {type(record).__name__ if record is not None else 'null'}, not the "
            "JSON object mnist-vae wrote: the run is damaged; train or copy it again"
        )
    return record
