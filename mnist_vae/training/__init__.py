"""Training: orchestration (``train``), the fit loop (``Fitter``), callbacks, precision
and tf.distribute set-ups (``distribution``); latent samplers fitted after training
(``latent_samplers``); drawing images from a run or an export (``draw_samples``); the
RunConfig of settings given over a config file (``run_config_from_settings``).

The names resolve on first use, so a command's request (``drawing.SampleRequest``) is
read without loading TensorFlow: its flags are made from it for ``--help``."""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "Fitter": "fitter",
    "SampleRequest": "drawing",
    "SampleResult": "drawing",
    "draw_samples": "drawing",
    "fit_sampler": "sampler_fitting",
    "run_config_from_settings": "run_settings",
    "run_sampler": "sampler_fitting",
    "sample_run": "sampler_fitting",
    "train": "trainer",
}


def __getattr__(name: str) -> Any:
    """A public name, its module imported on first use (TensorFlow with most)."""
    if name in _MODULES:
        return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])


__all__ = [
    "Fitter",
    "SampleRequest",
    "SampleResult",
    "draw_samples",
    "fit_sampler",
    "run_config_from_settings",
    "run_sampler",
    "sample_run",
    "train",
]
