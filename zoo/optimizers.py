"""Optimizers, selected with ``--optimizer``; ``lr_decay`` is per epoch.

A builder takes a learning rate that may be a Keras schedule (``--lr-schedule``:
``mnist_vae.models.schedules``); it then gets ``lr_decay`` 0.

Plain ``import keras`` (as in ``layers``): the Keras class below is registered at
import, which through the backend's lazy proxy would start TensorFlow with the zoo.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mnist_vae.models import schedules  # noqa: F401 (registers BurdaStages for loading)
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
    return FusedAdam(_time_based(learning_rate, lr_decay or 0.0, steps_per_epoch))


@optimizers.register
def sgdm(
    learning_rate: float, lr_decay: float | None, steps_per_epoch: int
) -> keras.optimizers.Optimizer:
    """SGD with momentum 0.9 and time-based decay lr/(1 + decay*epoch), decay 0.05 by default."""
    decay = SGDM_DEFAULT_DECAY if lr_decay is None else lr_decay
    return keras.optimizers.SGD(_time_based(learning_rate, decay, steps_per_epoch), momentum=0.9)


@keras.saving.register_keras_serializable(package="mnist_vae")
class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam, each variable updated by TensorFlow's one fused kernel.

    Keras updates a variable in about ten small ops (two moments, the bias-corrected
    step); ``ResourceApplyAdam`` does the same arithmetic in one, the form Keras
    writes it in (m and v are the uncorrected moments, the step size
    lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), epsilon added to sqrt(v)). On the
    MLP benchmark that is about a tenth of a training step. AMSGrad and
    ``tf.distribute`` take Keras's own update.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = keras.ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = keras.ops.cast(self.beta_1, dtype), keras.ops.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=keras.ops.power(beta_1, step),
            beta2_power=keras.ops.power(beta_2, step),
            lr=keras.ops.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=keras.ops.cast(self.epsilon, dtype),
            grad=gradient,
            use_locking=False,
        )
        return None
