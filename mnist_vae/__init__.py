"""mnist-vae: variational autoencoders for MNIST and MNIST-like data, in Keras 3.

Importing the package is cheap: registries and configuration load at once, while
everything that needs TensorFlow is imported on first use of the name. Once Keras
is imported (by us or by you), the zoo's Keras classes are registered with it, so
``keras.saving.load_model`` reads any run's ``model.keras`` directly.

    >>> import mnist_vae
    >>> mnist_vae.architectures.names()
    ['mlp', 'net1', 'net2', 'net3', 'net4', 'resconv']
"""

from __future__ import annotations

import importlib
from typing import Any

from mnist_vae.backend import when_keras_imported
from mnist_vae.config import Architecture, ModelConfig, RunConfig, TrainConfig
from mnist_vae.errors import (
    ConfigError,
    DataError,
    MnistVaeError,
    RunError,
    UnknownNameError,
    UsageError,
)
from mnist_vae.registry import (
    Registry,
    architectures,
    classifiers,
    decoders,
    discriminators,
    encoders,
    likelihoods,
    load_registrations,
    optimizers,
    samplers,
    strategies,
    synthesis_methods,
)

__version__ = "0.4.0.dev0"

# Public names whose modules import TensorFlow: resolved on first access.
_LAZY = {
    "build_model": "mnist_vae.models",
    "model_config": "mnist_vae.models",
    "GenerativeModel": "mnist_vae.models",
    "VAE": "mnist_vae.models",
    "load_mnist": "mnist_vae.data",
    "MnistData": "mnist_vae.data",
    "train": "mnist_vae.training",
    "fit_sampler": "mnist_vae.training",
    "sample_run": "mnist_vae.training",
    "SampleRequest": "mnist_vae.training",
    "draw_samples": "mnist_vae.training",
    "load_run": "mnist_vae.runs",
    "load_pretrained": "mnist_vae.runs",
    "Run": "mnist_vae.runs",
}

when_keras_imported(load_registrations)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mnist_vae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Architecture",
    "ConfigError",
    "DataError",
    "MnistVaeError",
    "ModelConfig",
    "Registry",
    "RunConfig",
    "RunError",
    "TrainConfig",
    "UnknownNameError",
    "UsageError",
    "__version__",
    "architectures",
    "classifiers",
    "decoders",
    "discriminators",
    "encoders",
    "likelihoods",
    "optimizers",
    "samplers",
    "strategies",
    "synthesis_methods",
    *_LAZY,
]
