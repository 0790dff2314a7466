"""Learning-rate schedules for ``--lr-schedule``, counted in epochs of the run's steps.

``--lr-decay`` alone keeps the optimizers' own inverse-time decay. The schedules here
replace it: ``exponential`` (lr * exp(-rate * epoch), the rate from ``--lr-decay``),
``cosine`` (from lr down to 0 at the run's last step) and ``burda``, the staged schedule
of Burda, Grosse & Salakhutdinov (2016): stage i = 0, 1, 2, ... lasts 3^i epochs at
lr * 10^(-i/7), so stages 0-7 are 3,280 epochs. The authors' code (yburda/iwae,
experiments.py) rounds the factor to one decimal of 10^(1 - i/7) (stage 1 runs at
7.2e-4, not 7.197e-4); so does this one for stages 0-7. Each schedule is a function of
the optimizer's step count, which checkpoints keep, so a resumed run continues it.
"""

from __future__ import annotations

import math

import keras

from mnist_vae.config import LR_SCHEDULES, TrainConfig

BURDA_STAGE_DECADES = 7  # stage i runs at lr * 10 ** (-i / 7)
BURDA_STAGES = 8  # the paper's stages 0-7: 3,280 epochs
BURDA_MAX_STAGES = 40  # 3^40 epochs: no run reaches the last one


def burda_factor(stage: int) -> float:
    """lr's factor in a stage: round(10^(1 - i/7), 1) / 10 for the paper's stages 0-7, as
    the authors' code has it, then 10^(-i/7)."""
    exact = 10 ** (-stage / BURDA_STAGE_DECADES)
    return round(10 * exact, 1) / 10 if stage < BURDA_STAGES else exact


def burda_stage(epoch: int) -> int:
    """Burda's stage of a 0-based epoch: stage i covers epochs (3^i - 1)/2 to (3^(i+1) - 3)/2."""
    return max(i for i in range(BURDA_MAX_STAGES) if (3**i - 1) // 2 <= epoch)


def burda_learning_rate(initial: float, epoch: int) -> float:
    """The learning rate Burda's schedule gives a 0-based epoch (a plain float)."""
    return initial * burda_factor(burda_stage(epoch))


@keras.saving.register_keras_serializable(package="mnist_vae")
class BurdaStages(keras.optimizers.schedules.LearningRateSchedule):
    """lr * ``burda_factor(i)`` in stage i, which lasts 3^i epochs (``burda_learning_rate``).

    The stage is counted exactly in integers: epoch e is in stage i or later when
    2e + 1 >= 3^i.
    """

    def __init__(self, initial_learning_rate: float, steps_per_epoch: int):
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step):
        ops = keras.ops
        epoch = ops.floor_divide(ops.cast(step, "int64"), self.steps_per_epoch)
        powers = ops.convert_to_tensor([3**i for i in range(1, BURDA_MAX_STAGES)], "int64")
        stage = ops.sum(ops.cast(2 * epoch + 1 >= powers, "int32"))
        factors = ops.convert_to_tensor([burda_factor(i) for i in range(BURDA_MAX_STAGES)])
        return self.initial_learning_rate * ops.take(factors, stage)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
        }


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    """``config.lr_schedule`` as a Keras schedule over optimizer steps (None: no schedule)."""
    name = config.lr_schedule
    if name is None:
        return None
    if name not in LR_SCHEDULES:  # the config refuses it first; a guard for direct calls
        raise ValueError(f"unknown learning-rate schedule {name!r}")
    lr = config.learning_rate
    if name == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=steps_per_epoch, decay_rate=math.exp(-config.lr_decay)
        )
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=max(1, config.epochs * steps_per_epoch)
        )
    return BurdaStages(lr, steps_per_epoch)
