"""Progress: one module for every layer, shown as a live bar, plain lines or nothing.

Plain lines (a log) are checked line by line on a fake clock; the command line's
progress on captured output (CliRunner is not a terminal: plain lines on stderr,
nothing with --quiet); and the classifiers' compiled functions are traced once, so
TensorFlow no longer warns of retracing when several are trained in a row.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae import progress
from mnist_vae.cli.main import cli


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress, "clock", fake)
    return fake


@pytest.fixture
def plain():
    """Plain progress lines into a string, restored afterwards."""
    stream = io.StringIO()
    previous = progress.configure(mode="plain", stream=stream)
    yield stream
    progress.restore(previous)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_plain_lines_at_start_every_tenth_and_end(plain, clock):
    with progress.task("IWAE bound", total=100, unit="images") as advance:
        for _ in range(100):
            clock.now += 1  # 1 s per image: a tenth every 10 s
            advance()
    assert lines(plain) == [
        "IWAE bound: started, 100 images",
        "IWAE bound: 10/100 images (10%), 10 s elapsed, about 1 min 30 s left",
        "IWAE bound: 20/100 images (20%), 20 s elapsed, about 1 min 20 s left",
        "IWAE bound: 30/100 images (30%), 30 s elapsed, about 1 min 10 s left",
        "IWAE bound: 40/100 images (40%), 40 s elapsed, about 1 min 00 s left",
        "IWAE bound: 50/100 images (50%), 50 s elapsed, about 50 s left",
        "IWAE bound: 60/100 images (60%), 1 min 00 s elapsed, about 40 s left",
        "IWAE bound: 70/100 images (70%), 1 min 10 s elapsed, about 30 s left",
        "IWAE bound: 80/100 images (80%), 1 min 20 s elapsed, about 20 s left",
        "IWAE bound: 90/100 images (90%), 1 min 30 s elapsed, about 10 s left",
        "IWAE bound: done, 100 images in 1 min 40 s",
    ]


def test_plain_lines_are_throttled_by_time(plain, clock):
    with progress.task("quick", total=1000, unit="steps") as advance:
        for _ in range(1000):  # all of it in 2 s: no line between start and end
            clock.now += 0.002
            advance()
    with progress.task("slow", total=1000, unit="steps") as advance:
        for _ in range(3):  # under a tenth, but 30 s apart: a line each time
            clock.now += 31
            advance()
        advance(100)  # a tenth more, but 0 s after the last line: none
        clock.now += 5
        advance()  # and 5 s later: a line
    assert lines(plain) == [
        "quick: started, 1,000 steps",
        "quick: done, 1,000 steps in 2 s",
        "slow: started, 1,000 steps",
        "slow: 1/1,000 steps (0%), 31 s elapsed, about 8 h 36 min left",
        "slow: 2/1,000 steps (0%), 1 min 02 s elapsed, about 8 h 35 min left",
        "slow: 3/1,000 steps (0%), 1 min 33 s elapsed, about 8 h 35 min left",
        "slow: 104/1,000 steps (10%), 1 min 38 s elapsed, about 14 min 04 s left",
        "slow: done at 104/1,000 steps (10%) in 1 min 38 s",
    ]


def test_quiet_writes_nothing_but_tasks_still_count(clock):
    stream = io.StringIO()
    previous = progress.configure(quiet=True, stream=stream)
    try:
        with progress.task("work", total=10, unit="steps") as advance:
            clock.now += 10
            advance(5)
            progress.note("epoch 1/2 ...")
            assert advance.status() == "5/10 steps (50%), 10 s elapsed, about 10 s left"
    finally:
        progress.restore(previous)
    assert stream.getvalue() == ""


def configured() -> progress.Settings:
    """The process's progress settings (``Settings()``: never configured)."""
    settings = progress.configure()
    progress.restore(settings)
    return settings


def test_a_library_caller_off_a_terminal_sees_nothing(capsys):
    assert configured() == progress.Settings()  # as a library caller: never configured
    with progress.task("work", total=3) as advance:
        advance(3)
        progress.note("a line")
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_nested_tasks_are_indented_and_the_outer_one_reports_every_step(plain, clock):
    with progress.task("benchmark", total=4, unit="steps", completed=1, every=True) as steps:
        for step in range(3):
            with progress.task(f"step {step}", total=2, unit="epochs") as epochs:
                clock.now += 10
                epochs(2)
                progress.note(f"result {step}")
            steps()
    assert lines(plain) == [
        "benchmark: started, 4 steps (1 done before)",
        "  step 0: started, 2 epochs",
        "  result 0",
        "  step 0: done, 2 epochs in 10 s",
        "benchmark: 2/4 steps (50%), 10 s elapsed, about 20 s left",
        "  step 1: started, 2 epochs",
        "  result 1",
        "  step 1: done, 2 epochs in 10 s",
        "benchmark: 3/4 steps (75%), 20 s elapsed, about 10 s left",
        "  step 2: started, 2 epochs",
        "  result 2",
        "  step 2: done, 2 epochs in 10 s",
        "benchmark: 4/4 steps (100%), 30 s elapsed",
        "benchmark: done, 4 steps in 30 s",
    ]


def test_a_failed_task_writes_no_end_line_and_the_next_starts_afresh(plain, clock):
    with (
        pytest.raises(KeyboardInterrupt),
        progress.task("outer", total=2),
        progress.task("inner", total=2) as advance,
    ):
        advance()
        raise KeyboardInterrupt
    with progress.task("again", total=1) as advance:
        advance()
    assert lines(plain) == [
        "outer: started, 2",
        "  inner: started, 2",
        "again: started, 1",
        "again: done, 1 in 0 s",
    ]


def test_the_time_left_comes_from_the_work_done_here(clock):
    # A resumed benchmark: 4 of 10 steps done before; 2 more in 60 s here.
    with progress.task("benchmark", total=10, unit="steps", completed=4, show=False) as steps:
        assert steps.remaining is None  # no rate yet
        clock.now += 60
        steps(2)
        assert steps.remaining == pytest.approx(4 * 60 / 2)
        assert steps.status() == "6/10 steps (60%), 1 min 00 s elapsed, about 2 min 00 s left"
        steps(4)
        assert steps.remaining == 0 and steps.status() == "10/10 steps (100%), 1 min 00 s elapsed"
    with progress.task("open-ended", show=False) as work:
        clock.now += 5
        work(3)
        assert work.remaining is None and work.status() == "3, 5 s elapsed"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.4, "59 s"),
        (59.6, "1 min 00 s"),
        (61, "1 min 01 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 00 min"),
        (7500, "2 h 05 min"),
    ],
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert progress.format_seconds(seconds) == text


def test_configure_checks_the_mode_and_picks_plain_off_a_terminal():
    with pytest.raises(ValueError, match="progress mode"):
        progress.configure(mode="loud")
    previous = progress.configure(stream=io.StringIO())
    try:
        assert progress.current_mode() == "plain"
        progress.configure(quiet=True)
        assert progress.current_mode() == "off"
    finally:
        progress.restore(previous)


# plain_training (the tiny run trained with plain progress lines) is conftest.py's.


def test_training_shows_its_steps_epochs_and_the_writing_of_the_run(plain_training):
    _, shown = plain_training
    started = [line for line in shown if "started" in line]
    ended = [line.split(" in ")[0] for line in shown if "done" in line]
    epochs = [line[:12] for line in shown if line.startswith("epoch")]
    assert started == [
        "training: started, 12 steps",
        "writing the run: metrics, figures: started, 3 parts",
    ]
    assert ended == ["training: done, 12 steps", "writing the run: metrics, figures: done, 3 parts"]
    assert epochs == ["epoch   1/2 ", "epoch   2/2 "]
    last_epoch = next(line for line in shown if line.startswith("epoch   2"))
    assert shown.index(started[1]) > shown.index(last_epoch)  # writing, once trained


def test_evaluate_shows_no_progress_when_quiet(plain_training, small_mnist_npz, tmp_path):
    """--quiet: no progress lines, what it says besides them stays. (Its plain lines
    without --quiet: test_evaluate's test_evaluate_writes_every_number_into_metrics.)"""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(plain_training[0].path, run)  # evaluate writes into the run
    args = [
        "evaluate",
        str(run),
        "--iw-samples",
        "20",
        "--no-quality",
        "--data",
        str(small_mnist_npz),
    ]
    quiet = CliRunner().invoke(cli, [*args, "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert not [line for line in quiet.stderr.splitlines() if "started" in line or "done," in line]
    assert "evaluated on small.npz" in quiet.stderr  # what it says besides progress stays
    assert configured() == progress.Settings()  # the command put the settings back


def test_a_large_sample_shows_its_decoding(plain_training, tmp_path):
    run, _ = plain_training
    out = tmp_path / "many.png"
    result = CliRunner().invoke(
        cli, ["sample", str(run.path), "--count", "1500", "--cols", "50", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    shown = result.stderr.splitlines()
    assert "decoding 1,500 images: started, 1,500 images" in shown
    assert [line for line in shown if line.startswith("decoding 1,500 images: done, 1,500 images")]
    assert "drawing the grid of 1,500 images: started" in shown
    small_request = CliRunner().invoke(
        cli, ["sample", str(run.path), "--count", "20", "--out", str(tmp_path / "few.png")]
    )
    assert small_request.exit_code == 0 and small_request.stderr == ""


def test_several_classifiers_in_a_row_trace_once_and_raise_no_retracing_warning(
    small, caplog, monkeypatch
):
    """Each new Keras trainer traced fresh functions; after five TensorFlow warned of
    retracing. Now each architecture's workbench is traced once."""
    import keras
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    from mnist_vae.evaluation.classifier_training import accuracy, predict_outputs, train_classifier
    from mnist_vae.registry import classifiers

    # TensorFlow's warning counts the recent tracings of a function's code process-wide
    # (and warns twice at most): start from a clean count, untouched by other tests.
    monkeypatch.setattr(
        polymorphic_function,
        "_frequent_tracing_detector_manager",
        polymorphic_function._FrequentTracingDetectorManager(),
    )
    weights = []
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(6):
            keras.utils.set_random_seed(seed)
            network = classifiers.get("small")()
            chosen = slice(50 * seed, 50 * seed + 60)
            train_classifier(
                network,
                small.x_train[chosen],
                small.y_train[chosen],
                epochs=1,
                seed=seed,
                augment=seed % 2 == 1,
            )
            assert 0 <= accuracy(network, small.x_test, small.y_test) <= 1
            assert [o.shape for o in predict_outputs(network, small.x_test[: 7 + seed])][-1] == (
                7 + seed,
                10,
            )
            weights.append(network.get_weights())
    retracing = [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]
    assert retracing == []
    # The classifiers stay apart: each keeps its own weights.
    assert not np.array_equal(weights[0][0], weights[1][0])


def test_a_classifier_is_the_same_whatever_was_trained_before(small):
    import keras

    from mnist_vae.evaluation.classifier_training import train_classifier
    from mnist_vae.registry import classifiers

    def trained(seed: int, count: int, augment: bool) -> list:
        keras.utils.set_random_seed(seed)
        network = classifiers.get("small")()
        train_classifier(
            network,
            small.x_train[:count],
            small.y_train[:count],
            epochs=2,
            seed=seed,
            augment=augment,
        )
        return network.get_weights()

    first = trained(0, 100, True)
    trained(1, 300, True)  # another training on the same workbench in between
    trained(2, 200, False)
    again = trained(0, 100, True)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def _retracing_warnings(caplog, monkeypatch, traced: bool, small) -> list[str]:
    """Build seven fresh models one after another and measure each once."""
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    from mnist_vae.data import to_float_images
    from mnist_vae.models import build_model, model_config
    from mnist_vae.models.inference import evaluate_elbo

    monkeypatch.setattr(
        polymorphic_function,
        "_frequent_tracing_detector_manager",
        polymorphic_function._FrequentTracingDetectorManager(),
    )
    images = to_float_images(small.x_test[:40])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(7):
            model = build_model(model_config("mlp", latent_dim=2), seed=seed)
            model.compile(optimizer="adam")
            metrics = evaluate_elbo(model, images, small.y_test[:40], batch_size=20, traced=traced)
            assert np.isfinite(metrics["loss"])
    return [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]


def test_models_measured_one_after_another_raise_no_retracing_warning(small, caplog, monkeypatch):
    """``benchmark nll`` loads each trained run and measures it once: tracing Keras's
    test function per model made TensorFlow warn of retracing. Measured eagerly, it
    does not, and the traced path (the check's control) still does."""
    assert _retracing_warnings(caplog, monkeypatch, traced=True, small=small) != []
    assert _retracing_warnings(caplog, monkeypatch, traced=False, small=small) == []
