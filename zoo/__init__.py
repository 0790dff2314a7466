"""Everything mnist-vae registers out of the box.

The registry's loader imports this package (and only the loader does): importing it
fills the registries in ``mnist_vae.registry`` and registers the strategies' Keras
classes, which reloading a saved model needs.
"""

from mnist_vae.zoo import (
    architectures,
    classifiers,
    decoders,
    discriminators,
    encoders,
    likelihoods,
    optimizers,
    posteriors,
    samplers,
    strategies,
    synthesis,
)

__all__ = [
    "architectures",
    "classifiers",
    "decoders",
    "discriminators",
    "encoders",
    "likelihoods",
    "optimizers",
    "posteriors",
    "samplers",
    "strategies",
    "synthesis",
]
