"""Use an export (from ``mnist-vae export``) the way a server would: TensorFlow only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.errors import RunError, UsageError, first_line
from mnist_vae.export.writer import CHECKSUMS, MODEL_CONFIG, SAMPLERS, checked_files
from mnist_vae.runs.format import SAMPLER_RECORD


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
    """An mnist-vae export read as data: a ``GenerativeModel``, like the run's own model.

    A SavedModel is a program: loading it and calling its signatures runs whatever graph
    its ``saved_model.pb`` holds, and a crafted one can carry a genuine export's assets.
    So mnist-vae never runs it: the model is rebuilt from the Keras configuration the
    export carries (``assets/model.json``, deserialised in Keras's safe mode from
    mnist-vae's registered classes), its weights are read from the variables checkpoint
    (``tf.train.load_checkpoint`` reads tensors, it runs nothing) and checked against the
    rebuilt model's shapes, and the fitted samplers are loaded from ``assets/samplers``.
    The protocol's methods are the rebuilt model's, so the images are the ones the
    export's own signatures give (the same methods, the same weights), and whatever
    draws from a run draws from an export the same way; serving the export with
    TensorFlow alone is unchanged.
    """

    def __init__(self, path: str | Path) -> None:
        from mnist_vae.backend import prepare_backend

        prepare_backend()
        self.path = Path(path).expanduser()
        if not (self.path / "saved_model.pb").is_file():
            raise RunError(f"{self.path} is not a SavedModel export (no saved_model.pb)")
        check_export_files(self.path)  # first: a changed run file is named as such
        self.record, self.metrics, latent = read_export_record(self.path)
        self.model = rebuild_exported_model(self.path)
        self.conditional = bool(self.model.conditional)
        try:
            self.latent_shape = tuple(
                self.record.get("latent_shape") or [self.record["model"]["latent_dim"]]
            )
            size = int(np.prod(self.latent_shape))
            self.digit_means = np.array(
                [np.full(size, np.nan) if m is None else m for m in latent["digit_means"]],
                dtype=float,
            )
            if self.digit_means.ndim != 2 or self.digit_means.shape[1] != size:
                raise ValueError(f"digit_means of shape {self.digit_means.shape}, codes {size}")
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise RunError(
                f"{self.path / 'assets'}: config.json or latent.json is damaged "
                f"({type(error).__name__}: {first_line(error)}); export the run again"
            ) from None
        folder = self.path / "assets" / SAMPLERS
        self.samplers = (
            []
            if self.conditional or not folder.is_dir()
            else sorted(
                entry.name.replace("-", "_")
                for entry in folder.iterdir()
                if (entry / SAMPLER_RECORD).is_file()
            )
        )

    def load_sampler(self, key: str):
        """The fitted sampler ``key`` the export carries; a usage error if it has none."""
        from mnist_vae.registry import samplers

        key = str(key).replace("-", "_")
        if key not in self.samplers:
            have = ", ".join(s.replace("_", "-") for s in self.samplers) or "none"
            raise UsageError(
                f"{self.path} has no {key!r} sampler (exported samplers: "
                f"{have}); fit it with 'mnist-vae sample RUN --sampler NAME', then export "
                "the run again"
            )
        folder = next(
            entry
            for entry in (self.path / "assets" / SAMPLERS).iterdir()
            if entry.name.replace("-", "_") == key
        )
        record = json.loads((folder / SAMPLER_RECORD).read_text())
        return samplers.get(record["sampler"]).load(folder)

    # The generative-model protocol (mnist_vae.models.GenerativeModel): the rebuilt model's.

    def encode(self, images: Any, labels: Any = None) -> Any:
        return self.model.encode(images, labels)

    def posterior_parameters(self, images: Any, labels: Any = None) -> dict[str, Any]:
        return self.model.posterior_parameters(images, labels)

    def decode(self, z: Any, labels: Any = None) -> Any:
        return self.model.decode(z, labels)

    def sample_prior(self, count: Any, seed: Any) -> Any:
        return self.model.sample_prior(count, seed)

    def sample(self, count: Any, seed: Any = 0, labels: Any = None) -> Any:
        return self.model.sample(count, seed, labels)

    def log_density_terms(
        self, images: Any, labels: Any, samples: int, seed_generator: Any
    ) -> dict[str, Any]:
        return self.model.log_density_terms(images, labels, samples, seed_generator)


def check_export_files(path: Path) -> None:
    """Refuse an export whose files changed since it was written: each file the reader
    reads must have the SHA-256 ``assets/checksums.json`` records, and none may have been
    added (a sampler folder would be loaded). Exports written before the record existed,
    with no ``assets/checksums.json`` at all, are read as they are."""
    from mnist_vae.io import sha256

    record_file = Path(path) / "assets" / CHECKSUMS
    if not os.path.lexists(record_file):
        return
    try:
        recorded = json.loads(record_file.read_text())["sha256"]
        recorded = {str(name): str(digest) for name, digest in recorded.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise RunError(
            f"{record_file} is damaged ({type(error).__name__}); export the run again"
        ) from None
    present = checked_files(path)
    changed = [
        name
        for name, digest in recorded.items()
        if name not in present or not present[name].is_file() or sha256(present[name]) != digest
    ]
    added = sorted(set(present) - set(recorded))
    if changed or added:
        problems = [f"changed or missing: {listed(changed)}"] if changed else []
        problems += [f"added: {listed(added)}"] if added else []
        raise RunError(
            f"{path} is not as it was exported ({'; '.join(problems)}); export the run again"
        )


def listed(names: list[str], shown: int = 3) -> str:
    """The first ``shown`` names, and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def rebuild_exported_model(path: Path):
    """The export's Keras model, from its configuration and its checkpointed variables.

    ``keras.export.ExportArchive`` checkpoints the tracked model's variables, in the
    model's own order, as ``variables/I``; the rebuilt model must have the same number,
    shapes and dtypes, else the export is refused.
    """
    import keras
    import tensorflow as tf

    from mnist_vae.registry import load_registrations

    load_registrations()
    config_file = Path(path) / "assets" / MODEL_CONFIG
    if not config_file.is_file():
        raise RunError(
            f"{path} was exported by an older mnist-vae (no assets/{MODEL_CONFIG}); "
            "export the run again to sample from it"
        )
    try:
        config = json.loads(config_file.read_text())
        config.pop("compile_config", None)  # a model to sample from: nothing to compile
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        reader = tf.train.load_checkpoint(str(Path(path) / "variables" / "variables"))
        stored = reader.get_variable_to_dtype_map()
    except Exception as exc:
        raise RunError(f"{path}: not a readable mnist-vae export ({first_line(exc)})") from None
    for index, variable in enumerate(model.variables):
        key = f"variables/{index}/.ATTRIBUTES/VARIABLE_VALUE"
        value = reader.get_tensor(key) if key in stored else None
        if (
            value is None
            or tuple(value.shape) != tuple(variable.shape)
            or (np.dtype(value.dtype) != np.dtype(variable.dtype))
        ):
            raise RunError(
                f"{path}: its variables do not fit the model it describes "
                f"({variable.path}); export the run again"
            )
        variable.assign(value)
    return model
