"""``mnist-vae benchmark augment``: do VAE-made digits help a classifier?

The report's protocol, as the default: split the 60,000 training images into
halves A and B (stratified, seeded); train a VAE on A with the report's training
protocol; train a digit classifier on a fraction f of B, once on the real images
alone and once with as many synthetic labelled images added, for f in
{0.2, 0.5, 1.0}; compare test accuracy. Beyond the report: more labelling methods
(registered synthesis methods), low-data fractions, a synthetic-to-real ratio, several
seeds with mean +- std and a paired t-test against real-only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.data import MnistData, data_label, select_training_set, to_float_images
from mnist_vae.declarations import option
from mnist_vae.errors import ConfigError
from mnist_vae.experiments.skeleton import (
    REAL,
    Bench,
    arch_option,
    bench_stage,
    check_names,
    check_seeds,
    classifier_epochs_option,
    classifier_option,
    fit_classifier,
    latent_dim_option,
    plot_by_method,
    quick_option,
    score_record,
    seeds_option,
    summarise_seeds,
    trained_run,
    write_summary_csv,
)
from mnist_vae.io import write_json_atomic
from mnist_vae.registry import synthesis_methods

REPORT_RESULTS = {  # the report's test accuracies, one run each, class-mean method
    ("real", 0.2): 0.9724,
    ("class_mean", 0.2): 0.9696,
    ("class_mean", 0.5): 0.9682,
    ("class_mean", 1.0): 0.9700,
}


def report_reference(data: MnistData) -> dict:
    """The report's accuracies as the results' reference (``report``), with a note saying
    what they are (``report_note``): on canonical MNIST only, since they were measured
    there; on other data ``report`` is None and the note says why."""
    if data.canonical:
        reference = [
            {"method": m, "fraction": f, "accuracy": a} for (m, f), a in REPORT_RESULTS.items()
        ]
        return {
            "report": reference,
            "report_note": "the report's test accuracies on canonical MNIST, one run each",
        }
    return {
        "report": None,
        "report_note": f"no reference: the report's accuracies were measured on canonical "
        f"MNIST, and this data is {data_label(data.provenance)}",
    }


@dataclass(frozen=True)
class AugmentConfig:
    """The report's protocol and its extensions; each field with ``option`` is a flag of
    ``benchmark augment``, declared here only."""

    fractions: tuple[float, ...] = option(
        (0.2, 0.5, 1.0), "Fractions of half B to train the classifier on."
    )
    methods: tuple[str, ...] = option(
        ("class_mean",), "Comma-separated synthesis methods.", registry="synthesis_methods"
    )
    synthetic_ratio: float = option(
        1.0, "Synthetic images per real image.", minimum=0, exclusive_minimum=True
    )
    synthetic_count: int | None = option(
        None,
        "Add this many synthetic images at every fraction (overrides --synthetic-ratio).",
        minimum=1,
    )
    seeds: tuple[int, ...] = seeds_option()
    arch: str = arch_option("net1")
    latent_dim: int = latent_dim_option(2)
    generator: str | None = option(
        None,
        "A vae run to use instead of training one on half A (one seed only).",
        path="run",
    )
    cvae_generator: str | None = option(
        None, "A cvae run for the cvae and filtered methods.", path="run"
    )
    classifier: str = classifier_option()
    classifier_epochs: int = classifier_epochs_option()
    classifier_min_steps: int = 1000
    filter_threshold: float = 0.9
    quick: bool = quick_option()

    def __post_init__(self) -> None:
        check_names("fraction", self.fractions, "--fractions 0.5")  # a repeat trains twice
        if not all(0 < f <= 1 for f in self.fractions):
            raise ConfigError(f"fractions must be in (0, 1], got {self.fractions}")
        check_names("method", self.methods, "--methods class-mean")
        if self.latent_dim < 1:
            raise ConfigError(f"latent dim must be >= 1, got {self.latent_dim}")
        if not (math.isfinite(self.synthetic_ratio) and self.synthetic_ratio > 0):
            raise ConfigError(f"synthetic ratio must be > 0, got {self.synthetic_ratio}")
        if self.synthetic_count is not None and self.synthetic_count < 1:
            raise ConfigError(f"synthetic count must be >= 1, got {self.synthetic_count}")
        check_seeds(self.seeds)
        if (self.generator or self.cvae_generator) and len(self.seeds) > 1:
            raise ConfigError(
                "a given --generator was trained on one split: use it with a single seed"
            )
        # The names last: checking them loads the registries (Keras), seconds the plain
        # checks above need not wait for.
        for method in self.methods:
            synthesis_methods.check(method)
        from mnist_vae.registry import architectures, classifiers

        architectures.check(self.arch)
        classifiers.check(self.classifier)

    def generator_training(self, seed: int) -> TrainConfig:
        """The report's protocol for the generators; tiny in quick mode."""
        if self.quick:
            return TrainConfig(epochs=1, batch_size=100, train_size=None, seed=seed)
        return TrainConfig(seed=seed)


@dataclass(frozen=True)
class Generator:
    """A generator the synthesis methods may ask for: its strategy, the config field of a
    run given instead of training one, and whether that run must be conditional."""

    strategy: str
    given: str
    conditional: bool = False

    def given_run(self, config: AugmentConfig) -> str | None:
        return getattr(config, self.given)

    def check(self, run, given: str) -> None:
        """A given run that cannot serve (a conditional one of another strategy): a
        one-line usage error."""
        if self.conditional and run.config.model.strategy != self.strategy:
            flag = "--" + self.given.replace("_", "-")
            raise ConfigError(f"{flag} {given} is not a conditional ({self.strategy}) run")


VAE, CVAE = Generator("vae", "generator"), Generator("cvae", "cvae_generator", conditional=True)


def check_given_runs(config: AugmentConfig) -> None:
    """The runs given as generators, checked before any work (their strategy)."""
    from mnist_vae.runs import load_run

    for generator in (VAE, CVAE):
        given = generator.given_run(config)
        if given is not None:
            generator.check(load_run(given), given)


def split_halves(data: MnistData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of halves A and B of the training set, stratified and seeded."""
    a = select_training_set(data.x_train, data.y_train, len(data.x_train) // 2, seed)
    rest = np.setdiff1d(np.arange(len(data.x_train)), a)
    b = rest[select_training_set(data.x_train[rest], data.y_train[rest], None, seed)]
    return a, b


def run_benchmark(
    config: AugmentConfig,
    data: MnistData,
    out: str | Path,
    *,
    overwrite=False,
    restart=False,
    report=print,
) -> dict:
    """Run the benchmark and write results.json, results.csv and accuracy.png to ``out``.

    An interrupted benchmark of ``out`` with the same config and data continues where
    it stopped (every classifier score is a step, kept as soon as it is known); with
    another, it is a usage error unless ``restart`` (discard it).
    """
    names = Bench.seed_steps(config, config.fractions, step_name)
    with bench_stage(
        "augment", config, data, out, names, overwrite=overwrite, restart=restart, report=report
    ) as bench:
        records = bench.every_seed(_one_seed, config, data)
        summary = summarise(records, config)
        reference = report_reference(data)
        if reference["report"] is None:
            report(reference["report_note"])
        results = bench.results(config, data, runs=records, summary=summary, **reference)
        write_json_atomic(bench.stage / "results.json", results)
        write_summary_csv(
            bench.stage / "results.csv",
            summary,
            columns=("method", "fraction"),
            statistic=("mean_accuracy", "mean"),
            difference="mean_difference_vs_real",
        )
        _plot(
            summary,
            config,
            bench.stage / "accuracy.png",
            data=None if data.canonical else data_label(data.provenance),
        )
    return results


def step_name(seed: int, fraction: float, method: str) -> str:
    """One step: the classifier score of ``method`` (or ``real``) at ``fraction``, ``seed``."""
    return f"seed{seed}-f{fraction!r}-{method}"


def _one_seed(config: AugmentConfig, data: MnistData, seed: int, bench: Bench) -> list[dict]:
    """Every step of one seed: its halves, its generators (trained once, on half A, and
    only if a step needs them) and each fraction of half B."""
    from mnist_vae.experiments.synthesis import SynthesisContext

    a, b = split_halves(data, seed)
    half_a = dataclasses.replace(data, x_train=data.x_train[a], y_train=data.y_train[a])
    stage, report = bench.stage, bench.report
    context = SynthesisContext(
        real_images=data.x_train[:0],
        real_labels=data.y_train[:0],
        make_vae=lambda: _generator(config, half_a, seed, stage, VAE, report),
        make_cvae=lambda: _generator(config, half_a, seed, stage, CVAE, report)[0],
        make_filter=lambda: _filter_classifier(config, half_a, seed),
        filter_threshold=config.filter_threshold,
    )
    return [
        record
        for fraction in config.fractions
        for record in _one_fraction(config, data, seed, fraction, b, context, bench)
    ]


def _one_fraction(
    config: AugmentConfig,
    data: MnistData,
    seed: int,
    fraction: float,
    b: np.ndarray,
    context,
    bench: Bench,
) -> list[dict]:
    """The scores at one fraction of half B: real only, then with each method's images."""
    from mnist_vae.evaluation.classifier_training import accuracy

    size = min(len(b), max(10, round(fraction * len(b))))
    real = b[select_training_set(data.x_train[b], data.y_train[b], size, seed)]
    context.real_images, context.real_labels = data.x_train[real], data.y_train[real]
    count = config.synthetic_count or max(1, round(config.synthetic_ratio * len(real)))

    def score(method: str) -> dict:
        images, labels, what = context.real_images, context.real_labels, "real only"
        if method != REAL:
            drawn, drawn_labels = synthesis_methods.get(method)(context, count, seed)
            images = np.concatenate([to_float_images(images), to_float_images(drawn)])
            labels, what = np.concatenate([labels, drawn_labels]), f"+ {count} {method}"
        network = fit_classifier(config, images, labels, seed, f"seed {seed} f={fraction:g} {what}")
        return score_record(
            seed,
            ("fraction", fraction),
            method,
            accuracy(network, data.x_test, data.y_test),
            len(real),
            0 if method == REAL else count,
        )

    def said(method: str):
        what = f"real only ({len(real)} images)" if method == REAL else f"+ {count} {method}"
        return lambda record: (
            f"seed {seed}  f={fraction:g}  {what}: {100 * record['accuracy']:.2f}%"
        )

    return [
        bench.step(step_name(seed, fraction, method), lambda m=method: score(m), said(method))
        for method in (REAL, *config.methods)
    ]


def _generator(
    config: AugmentConfig, half_a: MnistData, seed: int, stage: Path, generator: Generator, report
):
    """A VAE or CVAE trained on half A (or the run given with --generator/--cvae-generator)."""
    from mnist_vae.models import model_config
    from mnist_vae.runs import load_run

    given, strategy = generator.given_run(config), generator.strategy
    if given is not None:
        run = load_run(given)
        generator.check(run, given)
    else:
        run = trained_run(
            stage / "generators" / f"{strategy}-seed{seed}",
            lambda: RunConfig(
                model=model_config(config.arch, strategy=strategy, latent_dim=config.latent_dim),
                train=config.generator_training(seed),
            ),
            half_a,
            report,
            f"seed {seed}: training the {strategy} generator ({config.arch}) on half A ...",
        )
    return run.load_model(), run.digit_means()


def _filter_classifier(config: AugmentConfig, half_a: MnistData, seed: int):
    """The judge for ``filtered``: the benchmark's classifier trained on half A's labels."""
    import keras

    from mnist_vae.evaluation.classifier_training import train_classifier
    from mnist_vae.registry import classifiers

    keras.utils.set_random_seed(seed + 1)  # its weights, whichever step first needs it
    network = classifiers.get(config.classifier)()
    epochs = 1 if config.quick else config.classifier_epochs
    return train_classifier(
        network,
        half_a.x_train,
        half_a.y_train,
        epochs=epochs,
        seed=seed + 1,
        description=f"filter classifier, seed {seed}",
    )


def summarise(records: list[dict], config: AugmentConfig) -> list[dict]:
    """Mean +- std over seeds per (fraction, method), and each method's paired test against real."""
    return summarise_seeds(records, by="fraction", levels=config.fractions, methods=config.methods)


def _plot(summary: list[dict], config: AugmentConfig, path: Path, data: str | None = None) -> None:
    """The accuracies by fraction; ``data`` names data that is not MNIST in the title."""
    from mnist_vae.runs.figures import new_figure, save_figure

    figure, axis = new_figure(7, 4.5)
    plot_by_method(
        axis,
        summary,
        x="fraction",
        y="mean",
        methods=config.methods,
        label=lambda m: "real only" if m == REAL else f"+ {m.replace('_', '-')}",
    )
    axis.set_xscale("log")
    axis.set_xlabel("fraction of half B used (log scale)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title(
        f"classifier '{config.classifier}', mean +- std over {len(config.seeds)} seed(s)"
        + (f"\non {data} (no report reference: not MNIST)" if data else ""),
        fontsize=10,
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    save_figure(figure, path)
