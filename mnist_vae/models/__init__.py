"""The models: the base VAE, its layers and loss math, sampling, and the factory.

``GenerativeModel`` is the protocol the rest of the package relies on;
``build_model`` and ``model_config`` turn configuration into Keras models through
the registries. The zoo's strategies subclass ``VAE``.
"""

from mnist_vae.backend import import_backend

import_backend()  # Keras must be on TensorFlow before the classes below are defined

from mnist_vae.models.factory import (  # noqa: E402
    TrainingContext,
    build_model,
    build_networks,
    build_optimizer,
    build_vae,
    check_option_values,
    model_config,
    require_unit_beta,
    strategy_options,
    vae_arguments,
    with_options,
)
from mnist_vae.models.protocol import GenerativeModel  # noqa: E402
from mnist_vae.models.vae import VAE, check_networks  # noqa: E402

__all__ = [
    "VAE",
    "GenerativeModel",
    "TrainingContext",
    "build_model",
    "build_networks",
    "build_optimizer",
    "build_vae",
    "check_networks",
    "check_option_values",
    "model_config",
    "require_unit_beta",
    "strategy_options",
    "vae_arguments",
    "with_options",
]
