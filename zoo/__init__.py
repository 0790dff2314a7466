"""Everything mnist-vae registers out of the box.

Importing this package fills the registries in ``mnist_vae.registry``; builder
bodies import Keras lazily, so importing the zoo is cheap.
"""

from mnist_vae.zoo import (
    architectures,
    classifiers,
    decoders,
    discriminators,
    encoders,
    optimizers,
    strategies,
)

__all__ = [
    "architectures",
    "classifiers",
    "decoders",
    "discriminators",
    "encoders",
    "optimizers",
    "strategies",
]
