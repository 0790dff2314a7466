"""The label-budget protocol of ``mnist-vae benchmark labels --labels N,...``.

The report's protocol trains its generator on half A with A's 30,000 labels, which the
classifier side never has. Here every method sees the same labels: N training images
with their labels (balanced over the classes, seeded: ``select_labelled_set``) and the
other training images without. Per budget N and seed:

* ``real``: the benchmark's classifier trained on the N labelled images alone;
* ``m1``: a VAE trained on every training image without labels (one per seed, shared by
  all budgets); a small dense classifier on the N labelled images' codes (Kingma et al.
  2014's M1, with that network in place of their transductive SVM);
* ``m2``: the semi-supervised VAE (strategy ``m2``) trained on every image with only the
  N labels; its own classifier q(y|x) scored;
* ``m2_digits``: the N labelled images plus digits ``m2`` draws for each class;
* ``cvae_digits``: the N labelled images plus digits of a ``cvae`` trained on those N
  images alone (the contrast: a generator that sees no unlabelled image);
* ``m1_m2``: M2 trained on the codes of the seed's M1 VAE, frozen (strategy ``m1_m2``,
  the paper's M1+M2), with the N labels; its classifier q(y|z1) scored.

Each method is a record (``Method``): the model it trains (``Model``: its strategy and
what that strategy needs, e.g. labels, epochs, another model's run) and how it is
scored; the benchmark reads them and asks no strategy's name. Test error on the 10,000
test images; several seeds give mean +- std and each method's paired t-test against
``real``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.config import NUM_CLASSES, RunConfig, TrainConfig
from mnist_vae.data import MnistData, data_label, select_labelled_set, to_float_images
from mnist_vae.declarations import option
from mnist_vae.errors import BackendError, ConfigError
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

# Kingma et al. 2014, Table 1: MNIST test error (%) by number of labels.
PAPER_ERRORS = {
    "M1+TSVM": {100: 11.82, 600: 5.72, 1000: 4.24, 3000: 3.49},
    "M2": {100: 11.97, 600: 4.94, 1000: 3.60, 3000: 3.92},
    "M1+M2": {100: 3.33, 600: 2.59, 1000: 2.40, 3000: 2.18},
}
PAPER = "Kingma et al. 2014, Table 1 (MNIST test error, %)"
CVAE_EPOCHS = 10  # the budget-only cvae's epochs over its repeated labelled set


@dataclass(frozen=True)
class Model:
    """A model a method trains, and what its strategy needs to train it.

    ``labels``: ``none`` (every image without labels: one per seed, for every budget),
    ``budget`` (every image, the budget's N labelled) or ``alone`` (the N labelled
    images alone, repeated to whole epochs: ``_repeated_labelled_set``). ``epochs``: a
    config field or a number; ``options``: the config field with the strategy's options;
    ``on``: a model whose run this one is stacked on, given as its option ``on_option``.
    """

    strategy: str
    labels: str = "budget"
    epochs: str | int = "generator_epochs"
    options: str | None = None
    on: Model | None = None
    on_option: str | None = None


M1 = Model("vae", labels="none")
M2 = Model("m2", options="m2_options")
M1_M2 = Model("m1_m2", epochs="m1_m2_epochs", on=M1, on_option="m1_run")
CVAE = Model("cvae", labels="alone", epochs=CVAE_EPOCHS)


@dataclass
class Budget:
    """One seed's label budget: its labelled images, and each model trained for it once
    a step needs it."""

    config: LabelBudgetConfig
    data: MnistData
    seed: int
    count: int
    bench: Bench
    test_images: np.ndarray
    models: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        chosen = select_labelled_set(self.data.x_train, self.data.y_train, self.count, self.seed)
        self.images, self.labels = self.data.x_train[chosen], self.data.y_train[chosen]

    def model(self, model: Model):
        if model not in self.models:
            self.models[model] = _trained(self, model)
        return self.models[model]

    def folder(self, model: Model) -> Path:
        per_budget = "" if model.labels == "none" else f"-n{self.count}"
        return self.bench.stage / "generators" / f"{model.strategy}-seed{self.seed}{per_budget}"


def _real_accuracy(budget: Budget, name: str, model) -> float:
    """The benchmark's classifier on the labelled images alone."""
    from mnist_vae.evaluation.classifier_training import accuracy

    network = fit_classifier(
        budget.config,
        budget.images,
        budget.labels,
        budget.seed,
        f"{len(budget.images)} images, {name}",
    )
    return accuracy(network, budget.data.x_test, budget.data.y_test)


def _own_classifier_accuracy(budget: Budget, name: str, model) -> float:
    """The model's own classifier q(y|x) on the test images."""
    return float(np.mean(model.classify(budget.test_images) == budget.data.y_test))


def _codes_accuracy(budget: Budget, name: str, vae) -> float:
    """M1: a dense classifier on the labelled images' codes from a VAE trained without labels."""
    from mnist_vae.models.inference import encode_codes

    codes = encode_codes(vae, to_float_images(budget.images))
    test_codes = encode_codes(vae, budget.test_images)
    config = budget.config
    return code_classifier_accuracy(
        codes,
        budget.labels,
        test_codes,
        budget.data.y_test,
        seed=budget.seed,
        min_steps=20 if config.quick else config.classifier_min_steps,
    )


def _with_digits_accuracy(budget: Budget, name: str, model) -> float:
    """The classifier on the labelled images plus the model's digits for each class."""
    from mnist_vae.evaluation.classifier_training import accuracy
    from mnist_vae.models.sampling import sample_digits

    per_class, seed = budget.config.synthetic_per_class, budget.seed
    drawn = [
        sample_digits(model, per_class, seed + 7919 * digit, digit=digit)
        for digit in range(NUM_CLASSES)
    ]
    real = to_float_images(budget.images)
    mixed = np.concatenate([real, *[np.reshape(d, (-1, *real.shape[1:])) for d in drawn]])
    mixed_labels = np.concatenate([budget.labels, np.repeat(np.arange(NUM_CLASSES), per_class)])
    network = fit_classifier(
        budget.config, mixed, mixed_labels, seed, f"{len(mixed)} images, {name}"
    )
    return accuracy(network, budget.data.x_test, budget.data.y_test)


@dataclass(frozen=True)
class Method:
    """A method: the model it trains (None: the labelled images alone), how it scores a
    budget (``score(budget, name, model)``: test accuracy), whether it adds digits of
    the model (``synthetic_per_class`` per class), and its legend in the plot."""

    model: Model | None
    score: Callable[[Budget, str, object], float]
    synthetic: bool = False
    label: str | None = None


REAL_METHOD = Method(None, _real_accuracy, label="real only")
METHOD_RECORDS = {
    "m1": Method(M1, _codes_accuracy),
    "m2": Method(M2, _own_classifier_accuracy, label="m2's own classifier q(y|x)"),
    "m2_digits": Method(M2, _with_digits_accuracy, synthetic=True),
    "cvae_digits": Method(CVAE, _with_digits_accuracy, synthetic=True),
    "m1_m2": Method(M1_M2, _own_classifier_accuracy, label="m1_m2 (M1+M2): its classifier q(y|z1)"),
}
METHODS = tuple(METHOD_RECORDS)


def method_record(name: str) -> Method:
    return REAL_METHOD if name == REAL else METHOD_RECORDS[name]


@dataclass(frozen=True)
class LabelBudgetConfig:
    """What the label-budget benchmark measures and how long it trains each model; each
    field with ``option`` is a flag of ``benchmark labels``, declared here only."""

    labels: tuple[int, ...] = option(
        (100, 600, 1000, 3000),
        "Label budgets: for each N, N labelled training images (balanced, seeded) and every "
        "other image without its label, for the classifier and the generators alike.",
        metavar="N,N,...",
    )
    methods: tuple[str, ...] = option(
        METHODS,
        "Comma-separated methods besides real only (docs/benchmarks.md).",
        choices=METHODS,
    )
    seeds: tuple[int, ...] = seeds_option()
    arch: str = arch_option("mlp")
    latent_dim: int = latent_dim_option(50)
    generator_epochs: int = option(
        10, "Epochs over all training images of the M1 VAE and of each m2.", minimum=1
    )
    m1_m2_epochs: int = option(
        30, "Epochs over all training images of each m1_m2 (M2 on M1's codes).", minimum=1
    )
    cvae_steps: int = 3000  # the budget-only cvae: steps, since its set is tiny
    synthetic_per_class: int = 1000
    classifier: str = classifier_option()
    classifier_epochs: int = classifier_epochs_option()
    classifier_min_steps: int = 1000
    m2_options: tuple[tuple[str, object], ...] = ()
    quick: bool = quick_option()

    def __post_init__(self) -> None:
        from mnist_vae.registry import architectures, classifiers

        check_names("label budget", self.labels, "--labels 100,1000")
        for count in self.labels:
            if count < NUM_CLASSES or count % NUM_CLASSES:
                raise ConfigError(
                    f"each label budget must be a positive multiple of the "
                    f"{NUM_CLASSES} classes, got {count}"
                )
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(
                f"unknown label-budget method {unknown[0]!r}; choose from "
                f"{', '.join(METHODS)} (real is always measured)"
            )
        check_names("method", self.methods, "--methods m2")
        check_seeds(self.seeds)
        architectures.check(self.arch)
        classifiers.check(self.classifier)
        for name, value in (
            ("latent dim", self.latent_dim),
            ("generator epochs", self.generator_epochs),
            ("cvae steps", self.cvae_steps),
            ("m1_m2 epochs", self.m1_m2_epochs),
            ("synthetic digits per class", self.synthetic_per_class),
        ):
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")

    def generator_training(self, seed: int, labels: int | None, epochs: int) -> TrainConfig:
        """All training images (``labels`` of them labelled), Adam at 1e-3, batch 100."""
        return TrainConfig(
            epochs=1 if self.quick else epochs,
            batch_size=100,
            train_size=None,
            learning_rate=1e-3,
            seed=seed,
            labels=labels,
        )


def step_name(seed: int, labels: int, method: str) -> str:
    return f"seed{seed}-n{labels}-{method}"


def run_label_budget(
    config: LabelBudgetConfig,
    data: MnistData,
    out: str | Path,
    *,
    overwrite: bool = False,
    restart: bool = False,
    report=print,
) -> dict:
    """Run the protocol; write results.json, results.csv and error.png to ``out``.

    Resumes like ``benchmark augment``: every score is a step kept as soon as known, and
    every model trained is a run in the stage's ``generators/``.
    """
    names = Bench.seed_steps(config, config.labels, step_name)
    with bench_stage(
        "label_budget",
        config,
        data,
        out,
        names,
        overwrite=overwrite,
        restart=restart,
        report=report,
        title="benchmark labels",
    ) as bench:
        records = bench.every_seed(_one_seed, config, data)
        summary = summarise(records, config)
        paper_note = (
            PAPER
            if data.canonical
            else f"no reference: the paper measured canonical MNIST, this is "
            f"{data_label(data.provenance)}"
        )
        measured = bench.results(
            config,
            data,
            runs=records,
            summary=summary,
            paper=PAPER_ERRORS if data.canonical else None,
            paper_note=paper_note,
        )
        results = {"protocol": "label_budget", **measured}
        _write(bench.stage, results, config)
    return results


def _write(stage: Path, results: dict, config: LabelBudgetConfig) -> None:
    """results.json, results.csv and error.png, of a run or a merge."""
    write_json_atomic(stage / "results.json", results)
    write_summary_csv(
        stage / "results.csv",
        results["summary"],
        columns=("labels", "method"),
        statistic=("mean_error", "error"),
        difference="accuracy_gain_vs_real",
    )
    plot_errors(
        results["summary"], config, stage / "error.png", paper=results.get("paper") is not None
    )


def _one_seed(config: LabelBudgetConfig, data: MnistData, seed: int, bench: Bench) -> list[dict]:
    """Every step of one seed; models are trained only for steps still to do."""
    test_images = to_float_images(data.x_test)
    records = []
    for count in config.labels:
        budget = Budget(config, data, seed, count, bench, test_images)
        for method in (REAL, *config.methods):
            records.append(
                bench.step(
                    step_name(seed, count, method),
                    lambda m=method, b=budget: _score(b, m),
                    lambda r: (
                        f"seed {r['seed']}  {r['labels']} labels  {r['method']}: "
                        f"error {100 * (1 - r['accuracy']):.2f}%"
                    ),
                )
            )
    return records


def _score(budget: Budget, name: str) -> dict:
    """One step: method ``name`` scored at ``budget``, as its record."""
    method = method_record(name)
    model = None if method.model is None else budget.model(method.model)
    digits = NUM_CLASSES * budget.config.synthetic_per_class if method.synthetic else 0
    return score_record(
        budget.seed,
        ("labels", budget.count),
        name,
        method.score(budget, name, model),
        budget.count,
        digits,
    )


def _trained(budget: Budget, model: Model):
    """``model``'s run for ``budget`` in the stage (trained unless it exists), loaded."""
    from mnist_vae.models import model_config

    config, seed, count = budget.config, budget.seed, budget.count
    data, labels = budget.data, None if model.labels == "none" else count
    if model.labels == "alone":  # the N labelled images alone, repeated: no labels given
        data, labels = _repeated_labelled_set(config, data, seed, count), None
    epochs = model.epochs if isinstance(model.epochs, int) else getattr(config, model.epochs)

    def run_config() -> RunConfig:
        options = dict(getattr(config, model.options)) if model.options else {}
        if model.on is not None:  # on its run, trained first if no step needed it yet
            budget.model(model.on)
            options[model.on_option] = str(budget.folder(model.on))
        return RunConfig(
            model=model_config(
                config.arch, strategy=model.strategy, latent_dim=config.latent_dim, options=options
            ),
            train=config.generator_training(seed, labels, epochs),
        )

    announce = (
        f"seed {seed}: training {model.strategy} ({config.arch}, latent "
        f"{config.latent_dim}" + ("" if model.labels == "none" else f", {count} labels") + ") ..."
    )
    return trained_run(
        budget.folder(model), run_config, data, budget.bench.report, announce
    ).load_model()


def _repeated_labelled_set(
    config: LabelBudgetConfig, data: MnistData, seed: int, count: int
) -> MnistData:
    """The budget's N labelled images repeated so that ``CVAE_EPOCHS`` epochs of batch 100
    make ``config.cvae_steps`` steps.

    Training on the N images themselves would take thousands of one-step epochs at 100
    labels, and the per-epoch work (checkpoint, metrics) would cost 5 times the training.
    """
    chosen = select_labelled_set(data.x_train, data.y_train, count, seed)
    repeats = 1 if config.quick else max(1, round(config.cvae_steps * 100 / (CVAE_EPOCHS * count)))
    return dataclasses.replace(
        data,
        x_train=np.concatenate([data.x_train[chosen]] * repeats),
        y_train=np.concatenate([data.y_train[chosen]] * repeats),
        source=f"{data.source} (the {count} labelled images of seed {seed}, x{repeats})",
    )


def code_classifier_accuracy(
    codes: np.ndarray,
    labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    *,
    seed: int,
    min_steps: int = 1000,
    batch_size: int = 100,
) -> float:
    """Test accuracy of a dense network (256 ReLU units, 10 logits) fitted to ``codes``.

    The codes are standardised with the labelled codes' mean and spread, so the network
    sees the same scale whatever the VAE's latent size.
    """
    import keras

    keras.utils.set_random_seed(seed)
    mean, spread = codes.mean(axis=0), codes.std(axis=0) + 1e-6
    network = keras.Sequential(
        [
            keras.Input((codes.shape[1],)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )
    network.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    steps = math.ceil(len(codes) / batch_size)
    network.fit(
        (codes - mean) / spread,
        labels.astype("int32"),
        batch_size=batch_size,
        epochs=max(1, math.ceil(min_steps / steps)),
        verbose=0,
        shuffle=True,
    )
    logits = network.predict((test_codes - mean) / spread, batch_size=2000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == test_labels))


# What may differ between label-budget results that ``merge_results`` combines.
MERGEABLE = ("labels", "methods", "seeds")


def merge_results(
    parts: list[dict], out: str | Path, *, overwrite: bool = False, names: list[str] | None = None
) -> dict:
    """One label-budget result from several (seeds or methods run apart, e.g. side by side).

    The parts must share the data and every setting but ``MERGEABLE``, hold no step
    twice (but ``real``, which every run measures: the first result's is kept), and
    together cover every (seed, labels, method) of the union, so the merged
    summary is what one run of the union would report. ``names`` say in errors which
    input is wrong (its file; default "result N"). Every part is checked
    (``check_result``) before anything is written. Writes results.json, results.csv
    and error.png to ``out`` like a run.
    """
    from mnist_vae.io import locked_stage

    if len(parts) < 2:
        raise ConfigError("give two or more label-budget results.json files to merge")
    names = names or [f"result {index + 1}" for index in range(len(parts))]
    configs = [check_result(part, name) for part, name in zip(parts, names, strict=True)]
    _check_one_experiment(parts, configs, names)
    merged = dataclasses.replace(
        configs[0],
        labels=tuple(sorted({n for c in configs for n in c.labels})),
        seeds=tuple(sorted({s for c in configs for s in c.seeds})),
        methods=tuple(m for m in METHODS if any(m in c.methods for c in configs)),
    )
    records = _merged_records(parts, names, merged)
    summary = summarise(records, merged)
    results = {
        **parts[0],
        "config": dataclasses.asdict(merged),
        "runs": records,
        "summary": summary,
        "seconds": sum(p.get("seconds", 0.0) for p in parts),
        "merged_from": len(parts),
    }
    with locked_stage(Path(out), overwrite=overwrite) as (stage, _):
        _write(stage, results, merged)
    return results


def _check_one_experiment(
    parts: list[dict], configs: list[LabelBudgetConfig], names: list[str]
) -> None:
    """Every part has the first one's settings (but ``MERGEABLE``) and data."""

    def fixed(config: LabelBudgetConfig) -> dict:
        return {k: v for k, v in dataclasses.asdict(config).items() if k not in MERGEABLE}

    first = fixed(configs[0])
    for part, config, name in zip(parts, configs, names, strict=True):
        different = sorted(k for k, v in fixed(config).items() if v != first[k])
        if different:
            key = different[0]
            raise ConfigError(
                f"{name}: config.{key} is {fixed(config)[key]!r} but "
                f"{first[key]!r} in {names[0]}: only {', '.join(MERGEABLE)} may "
                "differ between the results of one experiment"
            )
        if not _same_data(part, parts[0]):
            raise ConfigError(
                f"{name}: measured on other data than {names[0]} "
                f"({_data_words(part)}, not {_data_words(parts[0])}); merge "
                "only the results of one experiment"
            )


def _merged_records(parts: list[dict], names: list[str], merged: LabelBudgetConfig) -> list[dict]:
    """The parts' records, each step once and every step of ``merged`` there, in a run's
    order."""
    records, seen = [], {}
    for part, name in zip(parts, names, strict=True):
        for record in part["runs"]:
            key = (record["seed"], record["labels"], record["method"])
            if key in seen and record["method"] == REAL:
                continue  # every run measures the reference: the first result's is kept
            if key in seen:
                where = "twice in it" if seen[key] == name else f"also in {seen[key]}"
                raise ConfigError(
                    f"{name}: step {step_name(*key)} is in more than one "
                    f"result ({where}); merge each step once"
                )
            seen[key] = name
            records.append(record)
    methods = (REAL, *merged.methods)
    missing = [
        step_name(s, n, m)
        for s in merged.seeds
        for n in merged.labels
        for m in methods
        if (s, n, m) not in seen
    ]
    if missing:
        raise ConfigError(
            f"the results do not cover {len(missing)} step(s) of their union, "
            f"e.g. {missing[0]}: run those too, then merge"
        )
    records.sort(
        key=lambda r: (r["seed"], merged.labels.index(r["labels"]), methods.index(r["method"]))
    )
    return records


def _finite_number(value: object) -> bool:
    """A JSON number that is a real, finite value (not a bool, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_result(part: object, name: str) -> LabelBudgetConfig:
    """``part``'s config, once ``part`` is a well-formed label-budget result; else a
    one-line ``ConfigError`` naming ``name`` (its file) and the key that is wrong.

    A merge recomputes every mean and test from the ``runs``: one NaN or missing
    accuracy would silently turn the table's statistics into nonsense (a NaN gain
    reads as p = 0.000), so each record is checked, not trusted.
    """
    if not isinstance(part, dict):
        raise ConfigError(
            f"{name}: not a results.json (a JSON object), but a {type(part).__name__}"
        )
    if part.get("protocol") != "label_budget":
        raise ConfigError(
            f"{name}: not a label-budget result (protocol "
            f"{part.get('protocol')!r}); merge joins the results of "
            "'benchmark labels'"
        )
    config = _recorded_config(part.get("config"), name)
    if not isinstance(part.get("data"), str):
        raise ConfigError(f"{name}: data (where the images came from) is missing or not text")
    identity = part.get("data_identity")
    if identity is not None and not (
        isinstance(identity, dict)
        and all(isinstance(identity.get(k), str) for k in ("train_sha256", "test_sha256"))
    ):
        raise ConfigError(f"{name}: data_identity is not the data's train_sha256 and test_sha256")
    seconds = part.get("seconds", 0.0)
    if not _finite_number(seconds) or seconds < 0:
        raise ConfigError(f"{name}: seconds is {seconds!r}, not a finite number >= 0")
    runs = part.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ConfigError(f"{name}: runs (the measured steps) is missing, empty or not a list")
    steps = {"seed": config.seeds, "labels": config.labels, "method": ("real", *config.methods)}
    for index, record in enumerate(runs):
        _check_run_record(record, f"{name}: runs[{index}]", steps)
    return config


def _recorded_config(recorded: object, name: str) -> LabelBudgetConfig:
    """A result's ``config`` as a ``LabelBudgetConfig``: its lists are checked first, so a
    wrong one is named by its key rather than surfacing as some later failure."""
    if not isinstance(recorded, dict):
        raise ConfigError(f"{name}: config is missing or not an object")
    for key, kind in (("labels", int), ("methods", str), ("seeds", int)):
        values = recorded.get(key)
        if not isinstance(values, list) or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in values
        ):
            raise ConfigError(
                f"{name}: config.{key} is {values!r}, not a list of "
                f"{'whole numbers' if kind is int else 'names'}"
            )
    try:
        return LabelBudgetConfig(**_config_fields(recorded))
    except BackendError:  # Keras on another backend: not the file's fault
        raise
    except ConfigError as error:
        raise ConfigError(f"{name}: config: {error}") from None
    except (TypeError, ValueError, LookupError) as error:
        raise ConfigError(f"{name}: config holds a value of the wrong type ({error})") from None


def _check_run_record(record: object, where: str, steps: dict[str, tuple]) -> None:
    """One measured step of ``runs``: its seed, labels and method among the config's, and
    an accuracy a merge can average (a NaN would poison every statistic it enters)."""
    if not isinstance(record, dict):
        raise ConfigError(f"{where} is not an object")
    for key, allowed in steps.items():
        value = record.get(key)
        if key not in record:
            raise ConfigError(f"{where}.{key} is missing")
        if value not in allowed or isinstance(value, bool) or type(value) is float:
            raise ConfigError(
                f"{where}.{key} is {value!r}, not one of {list(allowed)} (the result's config)"
            )
    accuracy = record.get("accuracy")
    if not _finite_number(accuracy) or not 0.0 <= accuracy <= 1.0:
        raise ConfigError(
            f"{where}.accuracy is {accuracy!r}, not a finite number from "
            "0 to 1; rerun that step rather than merge it"
        )


def _same_data(part: dict, first: dict) -> bool:
    """Whether two results measured the same images: by their hashes when both record
    them (a source named differently is still the same data), else by the source."""
    identities = part.get("data_identity"), first.get("data_identity")
    if all(identities):
        return identities[0] == identities[1]
    return part["data"] == first["data"]


def _data_words(part: dict) -> str:
    identity = part.get("data_identity")
    digest = f", test sha256 {identity['test_sha256'][:12]}" if identity else ""
    return f"{part['data']}{digest}"


def _config_fields(recorded: dict) -> dict:
    """A recorded config as ``LabelBudgetConfig`` arguments (JSON lists back to tuples;
    fields added since the result was written keep their defaults)."""
    names = {field.name for field in dataclasses.fields(LabelBudgetConfig)}
    return {
        key: tuple(tuple(v) if isinstance(v, list) else v for v in value)
        if isinstance(value, list)
        else value
        for key, value in recorded.items()
        if key in names
    }


def summarise(records: list[dict], config: LabelBudgetConfig) -> list[dict]:
    """Mean +- std of the test error per (labels, method), and each method's paired test
    against ``real`` (on accuracy: a positive difference is fewer errors)."""
    return summarise_seeds(
        records,
        by="labels",
        levels=config.labels,
        methods=config.methods,
        statistic="error",
        error=True,
    )


def plot_errors(
    summary: list[dict], config: LabelBudgetConfig, path: Path, *, paper: bool = True
) -> None:
    """Test error against the number of labels (log-log), the paper's rows dashed."""
    from mnist_vae.runs.figures import new_figure, save_figure

    figure, axis = new_figure(7, 4.5)
    plot_by_method(
        axis,
        summary,
        x="labels",
        y="error",
        methods=config.methods,
        label=lambda m: method_record(m).label or m.replace("_", " "),
    )
    if paper:
        for name, errors in PAPER_ERRORS.items():
            budgets = [n for n in sorted(config.labels) if n in errors]
            if not budgets:
                continue
            axis.plot(
                budgets,
                [errors[n] for n in budgets],
                linestyle="--",
                marker="x",
                color="0.55",
                alpha=0.8,
                linewidth=1,
            )
            axis.annotate(
                f"paper {name}",
                (budgets[-1], errors[budgets[-1]]),
                fontsize=7,
                color="0.4",
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
            )
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xticks(sorted(config.labels), [str(n) for n in sorted(config.labels)])
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.margins(x=0.12)
    axis.set_xlabel("labelled training images (log scale)")
    axis.set_ylabel("test error (%, log scale)")
    axis.set_title(
        f"label budget: classifier '{config.classifier}', generators {config.arch} "
        f"latent {config.latent_dim}; mean +- std over {len(config.seeds)} seed(s)",
        fontsize=9,
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    save_figure(figure, path)
