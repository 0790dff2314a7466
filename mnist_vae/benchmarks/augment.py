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
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.benchmarks.stats import mean_std, paired_t_test
from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.data import MnistData, data_label, select_training_set, to_float_images
from mnist_vae.errors import ConfigError
from mnist_vae.io import write_json_atomic
from mnist_vae.progress import task
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
        reference = [{"method": m, "fraction": f, "accuracy": a}
                     for (m, f), a in REPORT_RESULTS.items()]  # fmt: skip
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
    fractions: tuple[float, ...] = (0.2, 0.5, 1.0)
    methods: tuple[str, ...] = ("class_mean",)
    synthetic_ratio: float = 1.0
    synthetic_count: int | None = None  # a fixed number at every fraction, instead of the ratio
    seeds: tuple[int, ...] = (0,)
    arch: str = "net1"
    latent_dim: int = 2
    generator: str | None = None
    cvae_generator: str | None = None
    classifier: str = "small"
    classifier_epochs: int = 10
    classifier_min_steps: int = 1000
    filter_threshold: float = 0.9
    quick: bool = False

    def __post_init__(self) -> None:
        if not self.fractions or not all(0 < f <= 1 for f in self.fractions):
            raise ConfigError(f"fractions must be in (0, 1], got {self.fractions}")
        if len(set(self.fractions)) != len(self.fractions):  # a repeat would train twice
            shown = ",".join(f"{f:g}" for f in self.fractions)
            raise ConfigError(f"fractions must be distinct, got {shown}")
        if not self.methods:
            raise ConfigError("give at least one method")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"methods must be distinct, got {', '.join(self.methods)}")
        for method in self.methods:
            synthesis_methods.check(method)
        from mnist_vae.registry import architectures, classifiers

        architectures.check(self.arch)
        classifiers.check(self.classifier)
        if self.latent_dim < 1:
            raise ConfigError(f"latent dim must be >= 1, got {self.latent_dim}")
        if not (math.isfinite(self.synthetic_ratio) and self.synthetic_ratio > 0):
            raise ConfigError(f"synthetic ratio must be > 0, got {self.synthetic_ratio}")
        if self.synthetic_count is not None and self.synthetic_count < 1:
            raise ConfigError(f"synthetic count must be >= 1, got {self.synthetic_count}")
        if not self.seeds:
            raise ConfigError("give at least one seed, e.g. --seeds 0,1,2")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct, got {self.seeds}")
        negative = [seed for seed in self.seeds if seed < 0]
        if negative:
            raise ConfigError(f"seeds must be 0 or more, got {negative[0]}")

    def generator_training(self, seed: int) -> TrainConfig:
        """The report's protocol for the generators; tiny in quick mode."""
        if self.quick:
            return TrainConfig(epochs=1, batch_size=100, train_size=None, seed=seed)
        return TrainConfig(seed=seed)


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
    from mnist_vae.backend import prepare_backend
    from mnist_vae.benchmarks.resumable_steps import data_identity, resumable_stage

    prepare_backend()
    started = time.perf_counter()
    records = []
    intent = {"benchmark": "augment", "config": dataclasses.asdict(config),
              "data": data_identity(data)}  # fmt: skip
    names = [step_name(seed, fraction, method) for seed in config.seeds
             for fraction in config.fractions for method in ("real", *config.methods)]  # fmt: skip
    resumable = resumable_stage(Path(out), intent, overwrite=overwrite, restart=restart,
                                started=started, names=names, report=report)  # fmt: skip
    with resumable as (stage, steps):
        # Progress: the steps, with the time left for the whole benchmark, and each step's.
        with task("benchmark augment", total=len(names), unit="steps",
                  completed=steps.done(names), every=True) as overall:  # fmt: skip
            for seed in config.seeds:
                records.extend(_one_seed(config, data, seed, stage, steps, report, overall))
        summary = summarise(records, config)
        reference = report_reference(data)
        if reference["report"] is None:
            report(reference["report_note"])
        results = {
            "config": dataclasses.asdict(config),
            "data": data.source,
            "runs": records,
            "summary": summary,
            **reference,
            "seconds": steps.seconds(),
        }
        write_json_atomic(stage / "results.json", results)
        _write_csv(stage / "results.csv", summary)
        _plot(summary, config, stage / "accuracy.png",
              data=None if data.canonical else data_label(data.provenance))  # fmt: skip
    return results


def step_name(seed: int, fraction: float, method: str) -> str:
    """One step: the classifier score of ``method`` (or ``real``) at ``fraction``, ``seed``."""
    return f"seed{seed}-f{fraction!r}-{method}"


def _one_seed(
    config: AugmentConfig, data: MnistData, seed: int, stage: Path, steps, report, overall
) -> list[dict]:
    import keras

    from mnist_vae.benchmarks.synthesis import SynthesisContext
    from mnist_vae.evaluation.classifier_training import accuracy, train_classifier
    from mnist_vae.registry import classifiers

    a, b = split_halves(data, seed)
    half_a = dataclasses.replace(data, x_train=data.x_train[a], y_train=data.y_train[a])
    # One context per seed: its generators are trained once and serve every fraction.
    context = SynthesisContext(
        real_images=data.x_train[:0], real_labels=data.y_train[:0],
        make_vae=lambda: _generator(config, half_a, seed, stage, "vae", report),
        make_cvae=lambda: _generator(config, half_a, seed, stage, "cvae", report)[0],
        make_filter=lambda: _filter_classifier(config, half_a, seed),
        filter_threshold=config.filter_threshold,
    )  # fmt: skip
    epochs, min_steps = (
        (1, 20) if config.quick else (config.classifier_epochs, config.classifier_min_steps)
    )

    def fit_and_score(images, labels, step: str) -> float:
        # Seeded here, before the weights are made: a step's score must not depend on the
        # steps before it, or a resumed benchmark would differ from an uninterrupted one.
        keras.utils.set_random_seed(seed)
        network = classifiers.get(config.classifier)()
        train_classifier(network, images, labels, epochs=epochs, min_steps=min_steps, seed=seed,
                         description=f"classifier {config.classifier}, {step}")  # fmt: skip
        return accuracy(network, data.x_test, data.y_test)

    records = []
    for fraction in config.fractions:
        size = min(len(b), max(10, round(fraction * len(b))))
        real = b[select_training_set(data.x_train[b], data.y_train[b], size, seed)]
        context.real_images, context.real_labels = data.x_train[real], data.y_train[real]
        name = step_name(seed, fraction, "real")
        record = steps.get(name)
        new = record is None
        if new:
            score = fit_and_score(context.real_images, context.real_labels,
                                  f"seed {seed} f={fraction:g} real only")  # fmt: skip
            record = steps.record(name, _record(seed, fraction, "real", score, len(real), 0))
        records.append(record)
        report(f"seed {seed}  f={fraction:g}  real only ({len(real)} images): "
               f"{100 * record['accuracy']:.2f}%")  # fmt: skip
        overall(1 if new else 0)
        count = config.synthetic_count or max(1, round(config.synthetic_ratio * len(real)))
        for method in config.methods:
            name = step_name(seed, fraction, method)
            record = steps.get(name)
            new = record is None
            if new:
                images, labels = synthesis_methods.get(method)(context, count, seed)
                mixed = np.concatenate([to_float_images(context.real_images),
                                        to_float_images(images)])  # fmt: skip
                score = fit_and_score(mixed, np.concatenate([context.real_labels, labels]),
                                      f"seed {seed} f={fraction:g} + {count} {method}")  # fmt: skip
                record = steps.record(name, _record(seed, fraction, method, score, len(real),
                                                    count))  # fmt: skip
            records.append(record)
            report(f"seed {seed}  f={fraction:g}  + {count} {method}: "
                   f"{100 * record['accuracy']:.2f}%")  # fmt: skip
            overall(1 if new else 0)  # the time left, for the whole benchmark
    return records


def _record(seed, fraction, method, score, real, synthetic) -> dict:
    return {"seed": seed, "fraction": fraction, "method": method, "accuracy": score,
            "real_images": real, "synthetic_images": synthetic}  # fmt: skip


def _generator(
    config: AugmentConfig, half_a: MnistData, seed: int, stage: Path, strategy: str, report
):
    """A VAE or CVAE trained on half A (or the run given with --generator/--cvae-generator)."""
    from mnist_vae.benchmarks.resumable_steps import resuming_only
    from mnist_vae.models import model_config
    from mnist_vae.runs import load_run
    from mnist_vae.training import train

    given = config.generator if strategy == "vae" else config.cvae_generator
    trained = stage / "generators" / f"{strategy}-seed{seed}"
    if given is not None:
        run = load_run(given)
    elif trained.is_dir():  # trained before an interruption
        run = load_run(trained)
    else:
        report(f"seed {seed}: training the {strategy} generator ({config.arch}) on half A ...")
        run_config = RunConfig(
            model=model_config(config.arch, strategy=strategy, latent_dim=config.latent_dim),
            train=config.generator_training(seed),
        )
        run = train(run_config, trained, data=half_a, progress="bar",
                    report=resuming_only(report))  # fmt: skip
    model = run.load_model()
    if strategy == "cvae" and not model.conditional:
        raise ConfigError(f"--cvae-generator {given} is not a conditional (cvae) run")
    return model, run.digit_means()


def _filter_classifier(config: AugmentConfig, half_a: MnistData, seed: int):
    """The judge for ``filtered``: the benchmark's classifier trained on half A's labels."""
    import keras

    from mnist_vae.evaluation.classifier_training import train_classifier
    from mnist_vae.registry import classifiers

    keras.utils.set_random_seed(seed + 1)  # its weights, whichever step first needs it
    network = classifiers.get(config.classifier)()
    epochs = 1 if config.quick else config.classifier_epochs
    return train_classifier(network, half_a.x_train, half_a.y_train, epochs=epochs, seed=seed + 1,
                            description=f"filter classifier, seed {seed}")  # fmt: skip


def summarise(records: list[dict], config: AugmentConfig) -> list[dict]:
    """Mean +- std over seeds per (method, fraction), and each method's paired test against real."""
    rows = []
    for fraction in config.fractions:
        by_method = {
            method: {
                r["seed"]: r["accuracy"]
                for r in records
                if r["fraction"] == fraction and r["method"] == method
            }
            for method in ("real", *config.methods)
        }
        seeds = sorted(by_method["real"])
        for method, scores in by_method.items():
            values = [scores[s] for s in seeds]
            mean, std = mean_std(values)
            row = {
                "method": method,
                "fraction": fraction,
                "mean": mean,
                "std": std,
                "n": len(values),
            }
            if method != "real":
                row["vs_real"] = paired_t_test(values, [by_method["real"][s] for s in seeds])
            rows.append(row)
    return rows


def _write_csv(path: Path, summary: list[dict]) -> None:
    from mnist_vae.io import atomic_file

    with atomic_file(path, "w") as handle:
        handle.write("method,fraction,mean_accuracy,std,seeds,mean_difference_vs_real,p_value\n")
        for row in summary:
            test = row.get("vs_real", {})
            handle.write(
                f"{row['method']},{row['fraction']},{row['mean']:.6f},{row['std']:.6f},{row['n']},"
                f"{test.get('mean_difference', '')},{test.get('p', '')}\n"
            )


def _plot(summary: list[dict], config: AugmentConfig, path: Path, data: str | None = None) -> None:
    """The accuracies by fraction; ``data`` names data that is not MNIST in the title."""
    from mnist_vae.runs.figures import new_figure, save_figure

    figure, axis = new_figure(7, 4.5)
    for method in ("real", *config.methods):
        rows = [r for r in summary if r["method"] == method]
        axis.errorbar(
            [r["fraction"] for r in rows], [100 * r["mean"] for r in rows],
            yerr=[100 * r["std"] for r in rows], marker="o", capsize=3,
            label="real only" if method == "real" else f"+ {method.replace('_', '-')}",
        )  # fmt: skip
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

