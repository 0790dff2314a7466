"""Helpers the test modules share: the command line in-process and one-line errors.

Fixtures live in conftest.py; these are plain functions, imported where used
(``from tests.helpers import invoke, assert_one_line_error``).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from mnist_vae.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder (docs/, benchmarks/, the package's sources), wherever in
tests/ a test module lives."""

FRUITS = (
    "apple",
    "banana",
    "cherry",
    "date",
    "elderberry",
    "fig",
    "grape",
    "kiwi",
    "lemon",
    "mango",
)
"""Ten class names of the tests' own, in label order: data named so is MNIST-format data
that is not digits."""

CLI_SCRIPT = 'from mnist_vae.cli.main import cli; cli(prog_name="mnist-vae")'
"""``python -c CLI_SCRIPT ARGS`` is ``mnist-vae ARGS`` in a process of its own, from the
interpreter running the tests (``sys.executable``), whatever is on the PATH."""

TINY_TRAINING = ["--epochs", "1", "--train-size", "100", "--batch-size", "50"]
"""The shortest training the tests run: one epoch over 100 images in batches of 50."""

QUIET = ["--quiet", "--no-figures"]
"""No progress and no figures: a test's command prints and writes only what it checks."""


def data_out(data, out) -> list[str]:
    """``--data DATA --out OUT``, as text: where a command reads and where it writes."""
    return ["--data", str(data), "--out", str(out)]


def tiny_train_args(data, out, *extra) -> list[str]:
    """``train EXTRA``, the shortest training (``TINY_TRAINING``) on ``data`` into ``out``,
    quiet and without figures, every argument as text."""
    return ["train", *[str(a) for a in extra], *TINY_TRAINING, *data_out(data, out), *QUIET]


def nll_of_run(run, iw_samples, data, out, *extra) -> list[str]:
    """``benchmark nll`` of one existing run with ``iw_samples`` samples (no strategy is
    trained): the arguments as text, ``extra`` before ``--data`` and ``--out``."""
    measured = ["--strategies", "", "--run", str(run), "--iw-samples", str(iw_samples)]
    return ["benchmark", "nll", *measured, *[str(a) for a in extra], *data_out(data, out)]


def sampled(run, folder: Path, *options, count: int = 6):
    """``sample RUN OPTIONS --count COUNT``, its PNG and .npy written into ``folder``:
    checked to succeed, the images it drew (as the .npy holds them)."""
    import numpy as np

    npy = folder / "samples.npy"
    args = ["sample", run, *options, "--count", count, "--npy", npy, "--out", folder / "s.png"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return np.load(npy)


def invoke(*args, env: dict | None = None) -> Result:
    """``mnist-vae ARGS`` in this process (every argument passed as text), named as a
    user's shell names it in usage lines and hints."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, prog_name="mnist-vae")


def never_called(*args, **kwargs):
    """Stands in for the long work (training, a benchmark, loading MNIST) in tests of
    checks that must refuse before it: monkeypatch it over that work."""
    raise AssertionError("a usage error must be refused before any work")


def one_error_line(output: str) -> str:
    """The output's only ``Error:`` line, which is its last line; no traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], output
    assert "Traceback" not in output and "Exception ignored" not in output, output
    return errors[0]


def assert_one_line_error(result: Result, code: int, *fragments: str, alone: bool = True) -> str:
    """Exit ``code`` with one ``Error:`` line naming every fragment; returns that line.

    ``alone``: the error is all the output. Otherwise lines a command prints before it
    fails (progress, ``data: ...``) may come first, and the error is the last line.
    """
    assert result.exit_code == code, result.output
    error = one_error_line(result.output)
    if alone:
        assert [line for line in result.output.splitlines() if line.strip()] == [error], (
            result.output
        )
    for fragment in fragments:
        assert fragment in error, (fragment, result.output)
    return error


def assert_last_line_error(result: Result, code: int, *fragments: str) -> str:
    """``assert_one_line_error`` for a command that may print lines before it fails."""
    return assert_one_line_error(result, code, *fragments, alone=False)


def one_line_message(error, *fragments) -> str:
    """An exception's (or a ``pytest.raises`` result's) message: one non-empty line
    holding every fragment."""
    message = str(getattr(error, "value", error))
    assert message and "\n" not in message, message
    for fragment in fragments:
        assert str(fragment) in message, (fragment, message)
    return message


def numpy(value):
    """A tensor's (or an array's) values as a numpy array."""
    import keras

    return keras.ops.convert_to_numpy(value)


def tflite_interpreter(folder: Path):
    """``folder/model.tflite`` loaded by LiteRT, the runtime users run TFLite exports with."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(Path(folder) / "model.tflite"))


def log_normal(values, mean, log_variance):
    """log N(values; mean, exp(log_variance)) summed over the last axis, written out in numpy."""
    import math

    import numpy as np

    variance = np.exp(log_variance)
    return np.sum(
        -0.5 * (values - mean) ** 2 / variance - 0.5 * log_variance - 0.5 * math.log(2 * math.pi),
        axis=-1,
    )


def real_batch(mnist, count: int = 16):
    """MNIST's first ``count`` test images, float (count, 28, 28, 1) in [0, 1], and their
    int32 labels."""
    images = (mnist.x_test[:count, ..., None] / 255.0).astype("float32")
    return images, mnist.y_test[:count].astype("int32")


def idx_bytes(array) -> bytes:
    """An IDX file's bytes for a uint8 array: magic 0x0000080N, N big-endian dims, data."""
    import struct

    import numpy as np

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x00000800 | array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def fixed_vae(mean, log_variance, logits, likelihood="bernoulli", beta=1.0):
    """A VAE whose encoder always outputs (mean, log_variance) and decoder always ``logits``."""
    import keras
    import numpy as np

    from mnist_vae.models import VAE

    latent = len(mean)
    encoder = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(2 * latent)]
    )
    encoder.layers[-1].set_weights([np.zeros((784, 2 * latent)), np.array([*mean, *log_variance])])
    decoder = keras.Sequential(
        [keras.Input((latent,)), keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))]
    )
    decoder.layers[0].set_weights([np.zeros((latent, 784)), np.full(784, logits)])
    return VAE(encoder, decoder, latent_dim=latent, likelihood=likelihood, beta=beta, seed=1)


def record_bound_rows(model, monkeypatch) -> dict:
    """Wrap ``model.bound_rows`` so that ``recorded["index"]`` is each computed row's
    ``image * 10 + label`` after every call: tests fix the noise of z by that index."""
    recorded = {}
    bound_rows = model.bound_rows

    def rows_of(labels):
        rows, classes = bound_rows(labels)
        recorded["index"] = rows * 10 + classes
        return rows, classes

    monkeypatch.setattr(model, "bound_rows", rows_of)
    return recorded


def drawn_figures(monkeypatch, module) -> list:
    """The figures ``module`` saves through its ``save_figure`` from now on (still saved),
    kept so a test can read what they say."""
    figures = []
    save = module.save_figure

    def keep(figure, path):
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(module, "save_figure", keep)
    return figures


def figure_text(figure) -> str:
    """Every text a matplotlib figure shows (titles, labels, notes), one per line."""
    from matplotlib.text import Text

    return "\n".join(text.get_text() for text in figure.findobj(Text) if text.get_text())


def marked_stage(path: Path, kind: str, target: Path) -> Path:
    """A staging folder as mnist-vae makes one (``kind``: ``marks.PARTIAL``, ``OLD`` or
    ``TRAINING``), marker and all, with nothing else in it yet: what a kill leaves."""
    from mnist_vae.io.marks import write_stage_marker

    path.mkdir(parents=True)
    write_stage_marker(path, kind, target)
    return path


def staged_file_name(target: Path) -> str:
    """The name mnist-vae stages ``target`` under (``.STEM.TOKEN.partial.SUFFIX``)."""
    from mnist_vae.io.marks import file_token

    target = Path(target)
    return f".{target.stem}.{file_token(target.name)}.partial{target.suffix}"


def benchmarks_without_run_figures(monkeypatch) -> None:
    """Train the benchmarks' runs (augment's and the label budget's generators, nll's
    models) without their figures/*.png, for tests whose point is elsewhere: drawing them
    is a third of a tiny run's time, and training tests check them. Everything else
    trains as it would."""
    import dataclasses

    from mnist_vae.experiments.augment import AugmentConfig
    from mnist_vae.experiments.label_budget import LabelBudgetConfig
    from mnist_vae.experiments.nll import NllConfig

    generator_training, run_config = AugmentConfig.generator_training, NllConfig.run_config
    budget_training = LabelBudgetConfig.generator_training

    def generator_without(self, seed):
        return dataclasses.replace(generator_training(self, seed), figures=False)

    def budget_without(self, seed, labels, epochs):
        return dataclasses.replace(budget_training(self, seed, labels, epochs), figures=False)

    def run_without(self, strategy):
        config = run_config(self, strategy)
        return dataclasses.replace(config, train=dataclasses.replace(config.train, figures=False))

    monkeypatch.setattr(AugmentConfig, "generator_training", generator_without)
    monkeypatch.setattr(LabelBudgetConfig, "generator_training", budget_without)
    monkeypatch.setattr(NllConfig, "run_config", run_without)


def _report_outcome(work, path: str, barrier, results) -> None:
    from mnist_vae.errors import RunError

    try:
        work(Path(path), barrier)
        results.put("ok")
    except RunError as error:
        results.put(f"refused: {error}")


def race_two_processes(work, path: Path) -> list[str]:
    """``work(path, barrier)`` in two forked processes at once (``barrier`` lines them up):
    their outcomes, sorted: ``"ok"``, or ``"refused: <the RunError>"``."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    racers = [
        context.Process(target=_report_outcome, args=(work, str(path), barrier, results))
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    return sorted(results.get(timeout=5) for _ in racers)


def kill_when(process, ready, failure: str, poll: float = 0.01) -> None:
    """``kill -9`` ``process`` (no cleanup code runs) as soon as ``ready()`` is true;
    ``failure`` is the assertion's message if five minutes pass first."""
    import signal
    import time

    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, failure
        time.sleep(poll)
    process.send_signal(signal.SIGKILL)
    process.wait()


def stop_before_training(monkeypatch) -> dict:
    """``mnist_vae.training.train`` replaced by one that keeps the config it is given,
    as ``seen["config"]``, and stops with the RunError "stopped before training"."""
    import mnist_vae.training
    from mnist_vae.errors import RunError

    seen = {}

    def fake_train(config, out, **kwargs):
        seen["config"] = config
        raise RunError("stopped before training")

    monkeypatch.setattr(mnist_vae.training, "train", fake_train)
    return seen
