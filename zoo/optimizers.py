"""Optimizers, selected with ``--optimizer``; ``lr_decay`` is per epoch."""

from __future__ import annotations

from mnist_vae.backend import keras
from mnist_vae.registry import optimizers

SGDM_DEFAULT_DECAY = 0.05


def _time_based(learning_rate: float, decay: float, steps_per_epoch: int):
    """lr / (1 + decay * epoch), with the epoch counted fractionally per step."""
    if decay == 0:
        return learning_rate
    return keras.optimizers.schedules.InverseTimeDecay(
        learning_rate, decay_steps=steps_per_epoch, decay_rate=decay
    )


@optimizers.register
def adam(
    learning_rate: float, lr_decay: float | None, steps_per_epoch: int
) -> keras.optimizers.Optimizer:
    """Adam, at a constant learning rate unless --lr-decay is given (report default)."""
    return keras.optimizers.Adam(_time_based(learning_rate, lr_decay or 0.0, steps_per_epoch))


@optimizers.register
def sgdm(
    learning_rate: float, lr_decay: float | None, steps_per_epoch: int
) -> keras.optimizers.Optimizer:
    """SGD with momentum 0.9 and time-based decay lr/(1 + decay*epoch), decay 0.05 by default."""
    decay = SGDM_DEFAULT_DECAY if lr_decay is None else lr_decay
    return keras.optimizers.SGD(_time_based(learning_rate, decay, steps_per_epoch), momentum=0.9)
