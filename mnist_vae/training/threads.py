"""The thread layout a training runs TensorFlow with, chosen from its networks.

A network builder marked ``dense_only`` (the zoo's ``mlp``) makes small matrix
multiplies, which train fastest one thread per op with ops side by side; anything
else (convolutions, plugins' networks) keeps TensorFlow's split of each op over all
the cores (``mnist_vae.backend.set_default_threads``; measured in
``benchmarks/train_throughput.py``).
"""

from __future__ import annotations

from mnist_vae.backend import set_default_threads
from mnist_vae.config import ModelConfig
from mnist_vae.registry import decoders, encoders


def dense_networks(model: ModelConfig) -> bool:
    """Whether both of the model's networks are built from dense layers only."""
    return all(
        getattr(registry.get(name), "dense_only", False)
        for registry, name in ((encoders, model.encoder), (decoders, model.decoder))
        if name in registry
    )


def choose_training_threads(model: ModelConfig) -> None:
    """Set the thread layout for ``model`` if TensorFlow has not started yet."""
    one_per_op = dense_networks(model)
    set_default_threads(one_per_op=one_per_op)
