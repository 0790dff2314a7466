"""Everything mnist-vae registers out of the box.

The registry's loader imports this package (and only the loader does): importing it
fills the registries in ``mnist_vae.registry`` and registers the strategies' Keras
classes, which reloading a saved model needs.
"""

import importlib

# Each module registers what it defines; their order is the import order.
ZOO_MODULES = (
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
)

for _name in ZOO_MODULES:
    importlib.import_module(f"{__name__}.{_name}")

__all__ = list(ZOO_MODULES)
