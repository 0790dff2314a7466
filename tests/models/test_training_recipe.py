"""The papers' recipe as options: learning-rate schedules, Adam's epsilon, the output bias."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from mnist_vae.config import TrainConfig
from mnist_vae.errors import ConfigError
from mnist_vae.models import build_optimizer, model_config
from mnist_vae.models.output_bias import mean_pixel_logits, set_output_bias_to_mean
from mnist_vae.models.schedules import (
    BurdaStages,
    burda_learning_rate,
    burda_stage,
    learning_rate_schedule,
)
from tests.helpers import QUIET, assert_one_line_error, data_out, invoke, one_line_message

# Burda et al.'s stages by hand: stage i lasts 3^i epochs; the authors' code runs stage i
# at 1e-4 * round(10^(1 - i/7), 1): 1e-3, 7.2e-4, 5.2e-4, 3.7e-4, 2.7e-4, 1.9e-4, 1.4e-4, 1e-4.
BURDA_BY_HAND = [
    (0, 0, 1e-3),
    (1, 1, 7.2e-4),
    (3, 1, 7.2e-4),
    (4, 2, 5.2e-4),
    (12, 2, 5.2e-4),
    (13, 3, 3.7e-4),
    (39, 3, 3.7e-4),
    (40, 4, 2.7e-4),
    (120, 4, 2.7e-4),
    (121, 5, 1.9e-4),
    (363, 5, 1.9e-4),
    (364, 6, 1.4e-4),
    (1092, 6, 1.4e-4),
    (1093, 7, 1e-4),
    (3279, 7, 1e-4),
]


@pytest.mark.parametrize(("epoch", "stage", "rate"), BURDA_BY_HAND)
def test_burda_stages_and_rates_by_hand(epoch, stage, rate):
    assert burda_stage(epoch) == stage
    assert burda_learning_rate(1e-3, epoch) == pytest.approx(rate, rel=1e-12)
    schedule = BurdaStages(1e-3, steps_per_epoch=7)
    for step in (7 * epoch, 7 * epoch + 6):  # the whole epoch, first to last step
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-6)


def test_the_paper_stages_are_3280_epochs_and_the_schedule_round_trips():
    assert burda_stage(3279) == 7 and burda_stage(3280) == 8
    schedule = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(BurdaStages(2e-3, 30))
    )
    assert isinstance(schedule, BurdaStages)
    assert float(schedule(30 * 4)) == pytest.approx(2e-3 * 0.52, rel=1e-6)


def test_exponential_and_cosine_by_hand():
    exponential = learning_rate_schedule(
        TrainConfig(learning_rate=1e-3, lr_decay=0.1, lr_schedule="exponential"), 10
    )
    assert float(exponential(25)) == pytest.approx(1e-3 * math.exp(-0.25), rel=1e-6)
    cosine = learning_rate_schedule(
        TrainConfig(learning_rate=1e-3, epochs=4, lr_schedule="cosine"), 10
    )
    assert float(cosine(0)) == pytest.approx(1e-3)
    assert float(cosine(20)) == pytest.approx(0.5e-3, rel=1e-6)  # half way: cos(pi/2) = 0
    assert float(cosine(40)) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate_schedule(TrainConfig(), 10) is None


def test_the_optimizer_gets_the_schedule_alone_and_adams_epsilon_and_beta1():
    adam = build_optimizer(
        TrainConfig(learning_rate=1e-3, lr_schedule="burda", adam_epsilon=1e-4, adam_beta1=0.99), 50
    )
    assert isinstance(adam._learning_rate, BurdaStages)
    assert adam.epsilon == 1e-4 and adam.beta_1 == 0.99
    # sgdm's default decay of 0.05 would compound a schedule: the schedule is all of it.
    sgdm = build_optimizer(TrainConfig(optimizer="sgdm", lr_schedule="burda"), 50)
    assert isinstance(sgdm._learning_rate, BurdaStages)
    default = build_optimizer(TrainConfig(), 50)
    assert default.epsilon == pytest.approx(1e-7) and default.beta_1 == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"lr_schedule": "exponential"}, "needs --lr-decay"),
        ({"lr_schedule": "exponential", "lr_decay": 0.0}, "needs --lr-decay"),
        ({"lr_schedule": "cosine", "lr_decay": 0.1}, "--lr-decay does nothing"),
        ({"lr_schedule": "burda", "lr_decay": 0.1}, "--lr-decay does nothing"),
        ({"lr_schedule": "step"}, "lr_schedule must be one of"),
        ({"adam_epsilon": 0.0}, "adam_epsilon must be"),
        ({"adam_epsilon": 1e-4, "optimizer": "sgdm"}, "--adam-epsilon needs --optimizer adam"),
        ({"adam_beta1": 0.99, "optimizer": "sgdm"}, "--adam-beta1 needs --optimizer adam"),
        ({"adam_beta1": 1.0}, "adam_beta1 must be < 1"),
        ({"adam_beta1": -0.1}, "adam_beta1 must be"),
        ({"output_bias": "median"}, "output_bias must be one of"),
    ],
)
def test_recipe_settings_that_do_nothing_or_make_no_sense_are_refused(settings, fragment):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**settings)
    one_line_message(error, fragment)


def test_mean_pixel_logits_by_hand():
    # Pixel 0: always 0 (clipped to 0.001); pixel 1: 255 and 0 (mean 0.5, logit 0);
    # pixel 2: 3/4 (logit ln 3).
    images = np.array([[0, 255, 255], [0, 0, 255], [0, 255, 255], [0, 0, 0]], np.uint8)
    logits = mean_pixel_logits(images)
    np.testing.assert_allclose(
        logits, [math.log(0.001 / 0.999), 0.0, math.log(3.0)], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(mean_pixel_logits(images / 255.0), logits, rtol=1e-6, atol=1e-6)


def test_the_mean_output_bias_makes_the_untrained_decoder_draw_the_mean_image():
    from mnist_vae.models import build_model

    model = build_model(model_config("mlp", latent_dim=4), seed=0)
    # The last Dense's kernel set to 0: the decoder's output is its bias alone.
    last = [layer for layer in model.decoder.layers if layer.weights][-1]
    last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
    images = np.random.default_rng(0).integers(0, 256, (20, 28, 28, 1)).astype(np.uint8)
    set_output_bias_to_mean(model, images)
    drawn = keras.ops.convert_to_numpy(keras.ops.sigmoid(model.decoder(np.zeros((1, 4)))))
    expected = np.clip(images.mean(axis=0) / 255.0, 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(drawn[0], expected, rtol=1e-5, atol=1e-6)


def test_a_decoder_without_a_bias_per_pixel_is_refused():
    from mnist_vae.models import build_model

    model = build_model(model_config("net1", latent_dim=2), seed=0)
    with pytest.raises(ConfigError) as error:
        set_output_bias_to_mean(model, np.zeros((3, 28, 28, 1), np.uint8))
    one_line_message(error, "--output-bias mean needs a decoder", "--output-bias zeros")


def test_cli_trains_with_burdas_recipe_and_records_it(tmp_path, small_mnist_npz):
    out = tmp_path / "run"
    shape = ["--arch", "mlp", "--latent-dim", 4, "--epochs", 2, "--train-size", 100]
    adam = ["--lr-schedule", "burda", "--adam-epsilon", "1e-4", "--adam-beta1", "0.99"]
    recipe = [*adam, "--binarize", "dynamic", "--output-bias", "mean", "--batch-size", 50]
    result = invoke("train", *shape, *recipe, *data_out(small_mnist_npz, out), *QUIET)
    assert result.exit_code == 0, result.output
    train = json.loads((out / "config.json").read_text())["train"]
    assert (
        train["lr_schedule"],
        train["adam_epsilon"],
        train["adam_beta1"],
        train["output_bias"],
    ) == ("burda", 1e-4, 0.99, "mean")
    from mnist_vae.runs import load_run

    optimizer = load_run(out).load_model().optimizer  # saved with its schedule and epsilon
    assert isinstance(optimizer._learning_rate, BurdaStages) and optimizer.epsilon == 1e-4
    assert optimizer.beta_1 == 0.99


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lr-schedule", "exponential"], "needs --lr-decay"),
        (["--lr-schedule", "cosine", "--lr-decay", "0.1"], "--lr-decay does nothing"),
        (["--optimizer", "sgdm", "--adam-epsilon", "1e-4"], "--adam-epsilon needs"),
        (["--arch", "net1", "--output-bias", "mean"], "--output-bias mean needs"),
    ],
)
def test_cli_refuses_a_recipe_that_cannot_apply(tmp_path, small_mnist_npz, args, fragment):
    out = tmp_path / "run"
    tiny = ["--epochs", 1, "--train-size", 100, "--quiet"]
    result = invoke("train", *args, *tiny, *data_out(small_mnist_npz, out))
    assert_one_line_error(result, 2, fragment, alone=False)
    assert not out.exists()
