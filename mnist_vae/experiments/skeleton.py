"""What every benchmark shares: a resumable stage of named steps with the whole
benchmark's progress, summaries over seeds against real-only, their CSV and plot.

A benchmark declares its steps' names, then measures each one through ``Bench.step``,
which reads back a step kept before an interruption instead of measuring it again
(``resumable_steps``); augment, label_budget and nll differ only in what a step is.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mnist_vae.declarations import data_setting, option, overwrite_setting
from mnist_vae.errors import ConfigError
from mnist_vae.experiments.resumable_steps import Steps, data_identity, resumable_stage
from mnist_vae.experiments.stats import mean_std, paired_t_test
from mnist_vae.progress import task

REAL = "real"  # the reference every method is compared with: real images alone


# -- settings the classifier benchmarks (augment, label budget) declare alike ----------


def seeds_option() -> Any:
    return option((0,), "Comma-separated seeds (split, generators, classifiers).")


def arch_option(default: str) -> Any:
    return option(
        default, "Architecture of generators trained on the fly.", registry="architectures"
    )


def latent_dim_option(default: int) -> Any:
    return option(default, "Latent size of generators trained on the fly.", minimum=1)


def classifier_option() -> Any:
    return option("small", "Registered classifier to train.", registry="classifiers")


def classifier_epochs_option() -> Any:
    return option(10, "Epochs (at least 1,000 steps on small sets).", minimum=1)


def quick_option() -> Any:
    return option(False, "Tiny generators and classifiers: checks the pipeline, not the answer.")


@dataclasses.dataclass(frozen=True)
class BenchmarkControls:
    """How a benchmark command runs, beside its config: the folder of its results (left
    out: ``runs/NAME-TIME``), replacing an earlier one, restarting an interrupted one,
    and the data. Every benchmark command's flags for these are these fields."""

    out: str | None = option(None, "Folder for the results.", path="folder")
    overwrite: bool = overwrite_setting()
    restart: bool = option(
        False,
        "Discard an interrupted benchmark of --out and start afresh (by default the same "
        "command continues it at the step it reached).",
        switch=True,
    )
    data: str | None = data_setting()


def run_benchmark_command(
    name: str,
    run: Callable[..., dict],
    config: Any,
    load: Callable[..., Any],
    controls: BenchmarkControls,
    *,
    report: Callable[[str], None] = print,
    note: str | None = None,
) -> tuple[dict, str]:
    """A benchmark command's work once its flags are checked: ``controls.out`` (or
    ``runs/NAME-TIME``) checked writable before any work, ``note`` said, the data loaded
    by ``load`` (``load_mnist``), then ``run(config, data, out, ...)`` with its progress
    to ``report``. Returns its results and the folder they are in."""
    from mnist_vae.io import check_output_dir

    out = f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}" if controls.out is None else controls.out
    check_output_dir(out, overwrite=controls.overwrite, kind="benchmark")
    if note:
        report(note)
    mnist = load(controls.data, report=report)
    given = {"overwrite": controls.overwrite, "restart": controls.restart, "report": report}
    return run(config, mnist, out, **given), out


@dataclasses.dataclass
class Bench:
    """A benchmark at work in its stage: ``step`` measures, or reads back, each result."""

    stage: Path
    steps: Steps
    overall: Callable[[int], None]
    report: Callable[[str], None]

    def step(
        self, name: str, measure: Callable[[], Any], said: Callable[[Any], str] | None = None
    ) -> Any:
        """Step ``name``'s result: kept from before, else ``measure()`` kept at once;
        ``said(result)`` is reported and the benchmark's progress moves on."""
        result = self.steps.get(name)
        new = result is None
        if new:
            result = self.steps.record(name, measure())
        if said is not None:
            self.report(said(result))
        self.overall(1 if new else 0)  # the time left, for the whole benchmark
        return result

    @staticmethod
    def seed_steps(
        config: Any, levels: Sequence[Any], step_name: Callable[[int, Any, str], str]
    ) -> list[str]:
        """A classifier benchmark's steps, named by ``step_name(seed, level, method)``: for
        each of ``config.seeds``, each level (a fraction, a label budget), real only and
        each of ``config.methods``."""
        methods = (REAL, *config.methods)
        return [step_name(s, level, m) for s in config.seeds for level in levels for m in methods]

    def every_seed(self, one_seed: Callable[..., list[dict]], config: Any, data: Any) -> list[dict]:
        """The records of ``one_seed(config, data, seed, bench)`` for each of ``config.seeds``,
        in order."""
        return [record for seed in config.seeds for record in one_seed(config, data, seed, self)]

    def results(self, config: Any, data: Any, **fields: Any) -> dict:
        """The benchmark's results.json: its config, its data (named, and identified by
        its hashes), ``fields`` in their order, and the seconds its steps took."""
        recorded = {"data": data.results_name, "data_identity": data_identity(data)}
        return {
            "config": dataclasses.asdict(config),
            **recorded,
            **fields,
            "seconds": self.steps.seconds(),
        }


@contextmanager
def bench_stage(
    kind: str,
    config: Any,
    data: Any,
    out: str | Path,
    names: list[str],
    *,
    overwrite: bool,
    restart: bool,
    report: Callable[[str], None],
    title: str | None = None,
) -> Iterator[Bench]:
    """``out``'s stage for benchmark ``kind`` of ``config`` on ``data``, whose steps are
    ``names``: resumed if an interrupted run of the same intent left it, else new.

    Progress shows as one task over the steps, with the time left for the whole
    benchmark (each training or measurement shows its own as well), named ``title``
    (default: ``benchmark KIND``).
    """
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    started = time.perf_counter()
    intent = {"benchmark": kind, "config": dataclasses.asdict(config), "data": data_identity(data)}
    resumable = resumable_stage(
        Path(out),
        intent,
        overwrite=overwrite,
        restart=restart,
        started=started,
        names=names,
        report=report,
    )
    with (
        resumable as (stage, steps),
        task(
            title or f"benchmark {kind}",
            total=len(names),
            unit="steps",
            completed=steps.done(names),
            every=True,
        ) as overall,
    ):
        yield Bench(stage, steps, overall, report)


def score_record(
    seed: int, level: tuple[str, Any], method: str, accuracy: float, real: int, synthetic: int
) -> dict:
    """One classifier score: ``level`` is (key, value) of what the seed's steps vary
    (``fraction``, ``labels``), ``real`` and ``synthetic`` the images it learnt from."""
    return {
        "seed": seed,
        level[0]: level[1],
        "method": method,
        "accuracy": float(accuracy),
        "real_images": real,
        "synthetic_images": synthetic,
    }


def summarise_seeds(
    records: list[dict],
    *,
    by: str,
    levels: Sequence[Any],
    methods: Sequence[str],
    statistic: str = "mean",
    error: bool = False,
) -> list[dict]:
    """Per level of ``by`` and method (``real`` first): the mean +- std over seeds of the
    accuracy (of the error, 1 - accuracy, with ``error``) as ``statistic``, and each
    method's paired t-test against ``real`` on accuracy (a positive difference helps)."""
    rows = []
    for level in levels:
        by_method = {
            method: {
                r["seed"]: r["accuracy"]
                for r in records
                if r[by] == level and r["method"] == method
            }
            for method in (REAL, *methods)
        }
        seeds = sorted(by_method[REAL])
        for method, scores in by_method.items():
            values = [1 - scores[s] if error else scores[s] for s in seeds]
            mean, std = mean_std(values)
            row = {by: level, "method": method, statistic: mean, "std": std, "n": len(values)}
            if method != REAL:
                row["vs_real"] = paired_t_test(
                    [scores[s] for s in seeds], [by_method[REAL][s] for s in seeds]
                )
            rows.append(row)
    return rows


def write_summary_csv(
    path: Path,
    summary: list[dict],
    *,
    columns: Sequence[str],
    statistic: tuple[str, str],
    difference: str,
) -> None:
    """The summary as CSV: ``columns`` as they are, then ``statistic`` (header, key) and
    the std to 6 places, the seeds, the paired difference (headed ``difference``) and p."""
    from mnist_vae.io import atomic_file

    header = [*columns, statistic[0], "std", "seeds", difference, "p_value"]
    with atomic_file(path, "w") as handle:
        handle.write(",".join(header) + "\n")
        for row in summary:
            test = row.get("vs_real", {})
            cells = [
                *(str(row[c]) for c in columns),
                f"{row[statistic[1]]:.6f}",
                f"{row['std']:.6f}",
                str(row["n"]),
                str(test.get("mean_difference", "")),
                str(test.get("p", "")),
            ]
            handle.write(",".join(cells) + "\n")


def plot_by_method(
    axis: Any,
    summary: list[dict],
    *,
    x: str,
    y: str,
    methods: Sequence[str],
    label: Callable[[str], str],
) -> None:
    """One error-bar line per method (``real`` first): ``y`` in % against ``x``."""
    for method in (REAL, *methods):
        rows = [r for r in summary if r["method"] == method]
        axis.errorbar(
            [r[x] for r in rows],
            [100 * r[y] for r in rows],
            yerr=[100 * r["std"] for r in rows],
            marker="o",
            capsize=3,
            label=label(method),
        )


def trained_run(
    folder: Path,
    run_config: Callable[[], Any],
    data: Any,
    report: Callable[[str], None],
    announce: str,
):
    """The run in ``folder``, trained there (``run_config()``, which may train what it
    builds on first, then ``announce``, on ``data``) unless the benchmark did before an
    interruption; a training cut short resumes from its checkpoint, and says only that."""
    from mnist_vae.experiments.resumable_steps import resuming_only
    from mnist_vae.runs import load_run
    from mnist_vae.training import train

    if folder.is_dir():
        return load_run(folder)
    config = run_config()
    report(announce)
    with models_traced_anew():
        return train(config, folder, data=data, progress="bar", report=resuming_only(report))


RETRACING = "triggered tf.function retracing"


class _NewModelTraces(logging.Filter):
    """Drops TensorFlow's retracing warning, which a benchmark's later models trip: it
    counts traces by code object, so each new model's own step functions (Keras makes
    them from one function) count against the models trained before it in the process."""

    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING not in record.getMessage()


@contextmanager
def models_traced_anew():
    """While a benchmark trains one of its several models: no retracing warning for the
    traces every new model makes (a single training still shows a real one)."""
    import tensorflow as tf

    logger, dropped = tf.get_logger(), _NewModelTraces()
    logger.addFilter(dropped)
    try:
        yield
    finally:
        logger.removeFilter(dropped)


def fit_classifier(config: Any, images, labels, seed: int, what: str):
    """The benchmark's image classifier (``config.classifier``, its epochs and minimum
    steps; tiny with ``config.quick``) trained on ``images``, seeded before its weights
    are made: a step's score must not depend on the steps before it, or a resumed
    benchmark would differ from an uninterrupted one."""
    import keras

    from mnist_vae.evaluation.classifier_training import train_classifier
    from mnist_vae.registry import classifiers

    keras.utils.set_random_seed(seed)
    network = classifiers.get(config.classifier)()
    epochs, min_steps = (
        (1, 20) if config.quick else (config.classifier_epochs, config.classifier_min_steps)
    )
    return train_classifier(
        network,
        images,
        labels,
        epochs=epochs,
        min_steps=min_steps,
        seed=seed,
        description=f"classifier {config.classifier}, {what}",
    )


def check_names(kind: str, names: Sequence[Any], example: str) -> None:
    """At least one, each once: a repeat would measure the same steps twice."""
    if not names:
        raise ConfigError(f"give at least one {kind}, e.g. {example}")
    if len(set(names)) != len(names):
        shown = ",".join(f"{n:g}" if isinstance(n, float) else str(n) for n in names)
        raise ConfigError(f"{kind}s must be distinct, got {shown}")


def check_seeds(seeds: Sequence[int]) -> None:
    """Seeds: at least one, each once, each one a seed ``--seed`` takes (0 to 2**32 - 1)."""
    from mnist_vae.declarations import SEED_MAXIMUM

    check_names("seed", seeds, "--seeds 0,1,2")
    outside = [seed for seed in seeds if not 0 <= seed <= SEED_MAXIMUM]
    if outside:
        raise ConfigError(f"seeds must be 0 to {SEED_MAXIMUM}, got {outside[0]}")
