"""Mid-epoch checkpoints (``--checkpoint-every-steps``): resumed bit for bit, in process."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.errors import ConfigError
from mnist_vae.models import TrainingContext, build_model, model_config
from mnist_vae.training import Fitter
from mnist_vae.training.checkpoints import INDEX, EpochCheckpoint, Position, read_index


def config_for(data, checkpoint_steps=2, **train) -> RunConfig:
    """600 images in batches of 100: 6 steps per epoch. Schedules keyed on the optimizer's
    step (sgdm's decay, the KL warm-up) and dynamic binary draws keyed on the batch."""
    settings = dict(
        epochs=3,
        batch_size=100,
        train_size=600,
        optimizer="sgdm",
        binarize="dynamic",
        seed=3,
        data=str(data),
        checkpoint_steps=checkpoint_steps,
        figures=False,
    )
    return RunConfig(
        model=model_config("net1", options={"kl_warmup_epochs": 2}),
        train=TrainConfig(**{**settings, **train}),
    )


def fitter_for(config: RunConfig, data) -> Fitter:
    keras.utils.set_random_seed(config.train.seed)
    context = TrainingContext.for_training(config.train, available=len(data.x_train))
    model = build_model(config.model, seed=config.train.seed, context=context)
    return Fitter(model, config, data.x_train, data.y_train, data.x_test, data.y_test)


class InterruptAt(keras.callbacks.Callback):
    """Ctrl-C after the compiled call that ends at ``step`` of ``epoch`` (0-based epoch)."""

    def __init__(self, epoch: int, step: int) -> None:
        super().__init__()
        self.at, self.epoch = (epoch, step), 0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None) -> None:
        if (self.epoch, batch + 1) == self.at:
            raise KeyboardInterrupt


def test_a_run_interrupted_mid_epoch_resumes_to_the_uninterrupted_weights_and_history(
    small, small_mnist_npz, tmp_path
):
    config = config_for(small_mnist_npz)
    whole = fitter_for(config, small)
    assert (whole.steps_per_epoch, whole.checkpoint_steps) == (6, 2)
    expected = whole.fit(3, [EpochCheckpoint(tmp_path / "whole", steps=2)])

    # Interrupted after step 6 of the second epoch: its newest checkpoint is at step 4.
    first = fitter_for(config, small)
    folder = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        first.fit(3, [EpochCheckpoint(folder, steps=2), InterruptAt(1, 6)])
    assert read_index(folder) == [Position(1, 2), Position(1, 4)]
    assert sorted(p.name for p in folder.glob("*.weights.h5")) == [
        "epoch-1-step-2.weights.h5",
        "epoch-1-step-4.weights.h5",
    ]

    resumed = fitter_for(config, small)  # a fresh process's model: other initial weights
    checkpoint = EpochCheckpoint(folder, steps=2)
    checkpoint.set_model(resumed.model)
    start = checkpoint.restore()
    assert start == Position(1, 4)
    assert int(resumed.model.optimizer.iterations.numpy()) == 6 + 4
    history = resumed.fit(3, [checkpoint], initial_epoch=start.epoch, initial_step=start.step)

    for ours, theirs in zip(resumed.model.weights, whole.model.weights, strict=True):
        assert np.array_equal(ours.numpy(), theirs.numpy()), ours.path
    for ours, theirs in zip(
        resumed.model.optimizer.variables, whole.model.optimizer.variables, strict=True
    ):
        assert np.array_equal(ours.numpy(), theirs.numpy()), ours.path
    # The resumed epoch's row too: its running metrics were checkpointed with it.
    assert history == {name: values[1:] for name, values in expected.items()}
    assert read_index(folder) == read_index(tmp_path / "whole") == [Position(2, 4), Position(3)]

    # Checkpoints every 2 steps, and none: the same weights. (A training of 18 steps runs
    # one step per compiled call either way; test_intervals_fall_on_whole_compiled_calls.)
    plain = fitter_for(config_for(small_mnist_npz, checkpoint_steps=None), small)
    assert plain.model.steps_per_execution == 1
    plain.fit(3)
    for ours, theirs in zip(plain.model.weights, whole.model.weights, strict=True):
        assert np.array_equal(ours.numpy(), theirs.numpy()), ours.path


def test_intervals_fall_on_whole_compiled_calls(small, small_mnist_npz):
    def steps(every, batch_size, epochs=100):
        config = config_for(small_mnist_npz, every, batch_size=batch_size, epochs=epochs)
        fitter = fitter_for(config, small)
        return fitter.steps_per_epoch, fitter.model.steps_per_execution, fitter.checkpoint_steps

    assert steps(None, 2) == (300, 200, None)  # the default: 200 steps per call
    assert steps(None, 100, epochs=40) == (6, 6, None)  # 240 steps: an epoch per call
    assert steps(None, 100, epochs=3) == (6, 1, None)  # 18 steps in all: one per call
    assert steps(4, 100, epochs=3) == (6, 1, 4)
    assert steps(None, 10) == (60, 60, None)  # at most an epoch per call
    assert steps(7, 10) == (60, 7, 7)  # a short interval: as many steps per call
    assert steps(500, 2) == (300, 200, 400)  # a long one: rounded down to whole calls
    assert steps(4, 100) == (6, 4, 4)
    assert steps(9, 100) == (6, 6, 6)  # an epoch of 6 steps: one call, no mid-epoch ones


def test_the_help_states_the_steps_per_call():
    from mnist_vae.config import STEPS_PER_CALL
    from mnist_vae.training.fitter import STEPS_PER_EXECUTION

    assert STEPS_PER_CALL == STEPS_PER_EXECUTION


def test_the_index_records_steps_keeps_two_and_reads_the_old_format(
    small, small_mnist_npz, tmp_path
):
    fitter = fitter_for(config_for(small_mnist_npz), small)
    folder, messages = tmp_path / "checkpoint", []
    checkpoint = EpochCheckpoint(folder, steps=2, report=messages.append)
    checkpoint.set_model(fitter.model)
    for position in [(0, 2), (0, 4), (1, 0), (1, 2)]:
        checkpoint.save(*position)
    index = json.loads((folder / INDEX).read_text())
    assert index == {
        "checkpoints": [{"epoch": 1, "step": 0}, {"epoch": 1, "step": 2}],
        "epochs": [1],
    }
    assert sorted(p.name for p in folder.iterdir()) == [
        INDEX,
        "epoch-1-step-2.seeds.npz",
        "epoch-1-step-2.weights.h5",
        "epoch-1.seeds.npz",
        "epoch-1.weights.h5",
    ]

    # A corrupt newest mid-epoch checkpoint: reported in one line, the one before is used.
    (folder / "epoch-1-step-2.weights.h5").write_bytes(b"not an HDF5 file")
    assert checkpoint.restore() == Position(1, 0)
    assert len(messages) == 1 and "after epoch 1 and 2 steps is unreadable" in messages[0]
    # Saving an earlier position drops the later ones: they were another run's.
    checkpoint.save(0, 4)
    assert read_index(folder) == [Position(0, 4)]
    assert not list(folder.glob("epoch-1*"))

    # An index of epochs only (before mid-epoch checkpoints) still loads.
    checkpoint.save(1)
    (folder / INDEX).write_text(json.dumps({"epochs": [1]}))
    assert read_index(folder) == [Position(1, 0)]
    assert checkpoint.restore() == Position(1, 0)


def test_the_interval_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint_steps must be a positive integer"):
        TrainConfig(checkpoint_steps=-5)
    for wrong in (True, 2.5, "10"):
        with pytest.raises(ConfigError):
            TrainConfig(checkpoint_steps=wrong)
    assert TrainConfig(checkpoint_steps=0).checkpoint_steps is None  # 0: only epoch ends
    old = RunConfig(model=model_config("net1")).to_dict()
    del old["train"]["checkpoint_steps"]  # a config.json written before the option
    assert RunConfig.from_dict(old).train.checkpoint_steps is None

    result = CliRunner().invoke(
        cli, ["train", "--checkpoint-every-steps", "-1", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--checkpoint-every-steps'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
    shown = CliRunner().invoke(cli, ["train", "--help"], terminal_width=200).output
    shown = " ".join(shown.split())
    assert "--checkpoint-every-steps N" in shown and "rounded down" in shown  # wrapped anywhere
