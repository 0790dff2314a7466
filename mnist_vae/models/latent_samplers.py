"""Latent samplers fitted after training: where new codes come from besides the prior.

A VAE's training codes need not fill its N(0, I) prior: at latent 2 many prior
draws land where no code lives and decode to blank tiles. A latent sampler is
fitted to the codes of the training images (``model.encode``, the posterior means)
and draws new codes for the model's decoder, as pythae's samplers do. The zoo
registers them in ``mnist_vae.registry.samplers``; ``prior`` is not an entry but the
model's own ``sample_prior``, the default everywhere.

Every sampler's ``sample`` is built from TensorFlow ops on
``mnist_vae.models.portable_random`` noise, so an export can trace it and the same
seed gives the same codes in Python, in a SavedModel and in TFLite.
"""

from __future__ import annotations

import contextlib
import weakref
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mnist_vae.config import PRIOR
from mnist_vae.errors import UnknownNameError, UsageError

# The seed offset of a sampler's second noise stream (component choices), as vamp's.
CHOICE_STREAM = 104729


@runtime_checkable
class LatentSampler(Protocol):
    """A distribution over codes, fitted to training codes, sampled with portable noise.

    * ``fit(codes, seed)``: fit to float (N, D) codes; returns the sampler itself;
    * ``sample(count, seed)``: (count, D) float32 codes as a tensor, from TensorFlow
      ops only (traceable into a SavedModel), the same for the same seed;
    * ``save(directory)`` / ``load(directory)`` (a classmethod): its files in an
      existing folder; loading gives a sampler whose ``sample`` is identical;
    * ``trackables()``: the Keras objects whose variables ``sample`` reads (an export
      tracks them); empty when it only reads constants;
    * ``describe()``: JSON-ready facts about the fit (recorded beside the files).
    """

    latent_dim: int

    def fit(self, codes: np.ndarray, seed: int = 0) -> LatentSampler: ...

    def sample(self, count: Any, seed: Any) -> Any: ...

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path) -> LatentSampler: ...

    def trackables(self) -> list[Any]: ...

    def describe(self) -> dict[str, Any]: ...


def sampler_key(name: str) -> str:
    """The registry key for a user's sampler name (``second-stage`` -> ``second_stage``).

    ``prior`` stays ``prior``; an unknown name fails in one line naming the close ones.
    """
    from mnist_vae.registry import close_matches, samplers

    key = str(name).strip().replace("-", "_")
    if key == PRIOR or key in samplers:
        return key
    known = [PRIOR, *(n.replace("_", "-") for n in samplers.names())]
    close = close_matches(key.replace("_", "-"), known)
    hint = "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""
    raise UnknownNameError(f"unknown latent sampler {name!r}{hint} (choose: {', '.join(known)})")


def refuse_digit(digit: int | None) -> None:
    """A sampler draws from all training codes; ``--digit`` draws around one class's mean."""
    if digit is not None:
        raise UsageError(
            "--sampler and --digit do not combine: a sampler draws from all training codes, "
            "--digit around one class's mean code"
        )


def display_name(key: str) -> str:
    """How the command line spells a registry key: ``second_stage`` -> ``second-stage``."""
    return key.replace("_", "-")


def check_codes(codes: np.ndarray) -> np.ndarray:
    """Codes as float64 (N, D) with N >= 2, finite, or a one-line error."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 2:
        raise UsageError(f"a sampler needs at least 2 codes shaped (N, D), got {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise UsageError("the codes to fit a sampler to are not all finite")
    return codes


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sample_codes(sampler: LatentSampler, count: int, seed: int) -> np.ndarray:
    """``count`` codes from ``sampler`` as float32 numpy, the same as an export's.

    ``sample`` runs as a traced graph, as in a SavedModel: run eagerly, TensorFlow's
    kernels round a few uniforms one ulp apart, which Box-Muller magnifies near 0 (up
    to 4e-4 in 16,000 normal draws), while the traced draws match the export's exactly.
    Seeds wrap to int32, as the signatures take them.
    """
    import tensorflow as tf

    if not (isinstance(count, (int, np.integer)) and count >= 1):
        raise UsageError(f"count must be a positive integer, got {count!r}")
    try:
        draw = _TRACED.get(sampler)
    except TypeError:  # not weakly referenceable or hashable: trace anew
        draw = None
    if draw is None:
        spec = tf.TensorSpec([], tf.int32)
        draw = tf.function(sampler.sample, input_signature=[spec, spec])
        with contextlib.suppress(TypeError):
            _TRACED[sampler] = draw
    seed32 = np.array(seed, dtype=np.int64).astype(np.int32)
    codes = draw(tf.constant(int(count), tf.int32), tf.constant(seed32))
    return np.asarray(codes, dtype=np.float32)
