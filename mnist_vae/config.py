"""Frozen configuration records, saved as JSON beside the weights.

Every value is checked on construction, so a bad number fails with a one-line
``ConfigError`` before any work starts. Names (architecture, strategy, ...) are
resolved through the registries when a model is built, never by if/elif chains.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_vae.declarations import (
    REQUIRED,
    data_setting,
    option,
    seed_setting,
)
from mnist_vae.errors import ConfigError

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
# Compute precisions (mnist_vae.training.precision) and tf.distribute set-ups
# (mnist_vae.training.distribution), named here so the config checks them cheaply.
PRECISIONS = ("float32", "mixed_bfloat16", "auto")
DISTRIBUTIONS = ("none", "mirrored", "multiworker")
# Binary pixels: none (grey levels), threshold at 0.5 (TensorFlow's CVAE tutorial), or
# dynamic (resampled from the grey levels every epoch, the VAE literature's setting).
BINARIZATIONS = ("none", "threshold", "dynamic")
# Learning-rate schedules (mnist_vae.models.schedules); None keeps the optimizer's own
# (inverse-time with --lr-decay). Output biases: zeros, or the logits of the training
# images' mean pixels (Burda et al. 2016's initialisation).
LR_SCHEDULES = ("exponential", "cosine", "burda")
OUTPUT_BIASES = ("zeros", "mean")
# Export formats (mnist_vae.export.writer), named here so `export --help` loads nothing;
# so are the prior's name among latent samplers (mnist_vae.models.latent_samplers), the
# variance of the noise around a class's mean code (mnist_vae.models.sampling), both for
# `sample --help`, and how often `train --tensorboard` logs images
# (mnist_vae.training.tensorboard).
EXPORT_FORMATS = ("savedmodel", "tflite")
PRIOR = "prior"
DIGIT_NOISE_VARIANCE = 0.1
TENSORBOARD_IMAGES_EVERY = 5


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _finite_number(name: str, value: Any, *, minimum: float, strict: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum)
    relation = ">" if strict else ">="
    _require(ok, f"{name} must be a finite number {relation} {minimum:g}, got {value!r}")


def check_declared(record: Any) -> None:
    """Check (and normalise) each declared field of ``record`` against its ``option``:
    type, choices and range; ``none_as`` and ``legacy`` values become what they mean."""
    hints = typing.get_type_hints(type(record))
    for spec in dataclasses.fields(record):
        meta = spec.metadata
        if "help" not in meta:
            continue
        value = _normalised(getattr(record, spec.name), meta)
        object.__setattr__(record, spec.name, value)
        kind, optional = option_type(hints[spec.name])
        if value is None and optional:
            continue
        _check_value(spec.name, value, kind, meta)


def _normalised(value: Any, meta: Mapping[str, Any]) -> Any:
    """A value as the field holds it: ``none_as`` is None, a ``legacy`` value its meaning."""
    legacy = meta.get("legacy") or {}
    if isinstance(value, bool) and value in legacy:
        return legacy[value]
    none_as = meta.get("none_as")
    if none_as is not None and type(value) is type(none_as) and value == none_as:
        return None
    return value


def _shown(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _check_value(name: str, value: Any, kind: type, meta: Mapping[str, Any]) -> None:
    """One declared value against its type, choices and range (one-line errors)."""
    minimum, maximum = meta.get("minimum"), meta.get("maximum")
    if kind is bool:
        _require(isinstance(value, bool), f"{name} must be true or false, got {value!r}")
    elif kind is int:
        what = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        whole = isinstance(value, int) and not isinstance(value, bool)
        _require(
            whole and (minimum is None or value >= minimum), f"{name} must be {what}, got {value!r}"
        )
    elif kind is float:
        _finite_number(
            name,
            value,
            minimum=minimum if minimum is not None else -math.inf,
            strict=meta.get("exclusive_minimum", False),
        )
    elif meta.get("choices") is not None:
        choices = meta["choices"]
        _require(value in choices, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    elif meta.get("registry") is not None:
        _require(isinstance(value, str) and value != "", f"{name} must be a non-empty name")
    if maximum is not None:
        strict = meta.get("exclusive_maximum", False)
        relation = "<" if strict else "at most"
        _require(
            value < maximum if strict else value <= maximum,
            f"{name} must be {relation} {_shown(maximum)}, got {value!r}",
        )


@dataclass(frozen=True)
class Architecture:
    """A named encoder + decoder pair, as registered in ``architectures``."""

    encoder: str
    decoder: str


# --help's sections of the settings below (mnist-vae train lists them in this order).
MODEL_SECTION, TRAINING_SECTION = "Model", "Training"
DATA_SECTION, OUTPUT_SECTION = "Data", "Output and resuming"
# Training steps per compiled call (mnist_vae.training.fitter), named here for the help.
STEPS_PER_CALL = 200


@dataclass(frozen=True)
class ModelConfig:
    """What to build: networks, strategy, latent size and the ELBO's settings.

    Each setting is declared once, with ``option``: ``mnist-vae train`` makes its flag,
    its help and its config-file key from the declaration, and the checks below read it.
    """

    # Keyword-only, so that ModelConfig(encoder, decoder, ...) still works; first, as
    # train --help lists it.
    architecture: str | None = option(
        None,
        "Registered architecture (encoder + decoder pair); see 'mnist-vae zoo'. "
        "[default: net1, unless --encoder and --decoder are both given]",
        registry="architectures",
        flag="arch",
        section=MODEL_SECTION,
        kw_only=True,
    )
    encoder: str = option(
        REQUIRED,
        "Registered encoder, overriding the architecture's.",
        registry="encoders",
        section=MODEL_SECTION,
    )
    decoder: str = option(
        REQUIRED,
        "Registered decoder, overriding the architecture's.",
        registry="decoders",
        section=MODEL_SECTION,
    )
    strategy: str = option(
        "vae", "Registered training strategy.", registry="strategies", section=MODEL_SECTION
    )
    latent_dim: int = option(2, "Size of z.", minimum=1, maximum=4096, section=MODEL_SECTION)
    likelihood: str = option(
        "bernoulli",
        "p(x|z): bernoulli is BCE on logits, gaussian squared error.",
        registry="likelihoods",
        section=MODEL_SECTION,
    )
    # None: the sigma-VAE's optimal variance, the batch's mean squared error (it learns
    # where a fixed 1.0 collapses); a number fixes it.
    gaussian_variance: float | None = option(
        None,
        "Pixel variance of the gaussian likelihood.",
        minimum=0,
        exclusive_minimum=True,
        shown_default="the batch's mean squared error (sigma-VAE)",
        section=MODEL_SECTION,
    )
    beta: float = option(1.0, "Weight on the KL term.", minimum=0, section=MODEL_SECTION)
    # Strategy-specific settings (e.g. VAE-GAN's gamma), checked by the strategy's
    # own options dataclass; see mnist_vae.models.factory.strategy_options.
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_declared(self)
        _require(isinstance(self.options, dict), "options must be a dict of strategy settings")


def code_size(latent_dim: int | None, top_latent_dim: int | None = None) -> str:
    """How tables name a model's code: its latent size, "z1+z2" for two stochastic layers
    (the bottom one first; ``top_latent_dim`` is the strategy option of hvae, iwae2 and
    vamp2)."""
    sizes = [size for size in (latent_dim, top_latent_dim) if size is not None]
    return "+".join(str(size) for size in sizes) or "-"


# TrainConfig's settings that say how a training ran, not what it trained: where the data
# was read from, figures, checkpoints, devices. A run's recipe (benchmark nll's seed
# spread) and a pretrained model's reproduction leave them out.
HOW_IT_RAN = ("data", "figures", "checkpoint_steps", "distribute", "cpu_devices")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the report's protocol is the default (declared as ``ModelConfig``)."""

    epochs: int = option(
        40, "Passes over the training subset.", minimum=1, section=TRAINING_SECTION
    )
    batch_size: int = option(400, "Images per step.", minimum=1, section=TRAINING_SECTION)
    learning_rate: float = option(
        0.005,
        "Learning rate.",
        minimum=0,
        exclusive_minimum=True,
        flag="lr",
        section=TRAINING_SECTION,
    )
    optimizer: str = option(
        "adam",
        "Registered optimizer; sgdm is momentum 0.9 with time-based decay.",
        registry="optimizers",
        section=TRAINING_SECTION,
    )
    lr_decay: float | None = option(
        None,
        "Decay rate per epoch: lr/(1 + decay*epoch), or with --lr-schedule exponential "
        "lr*exp(-decay*epoch). [default: adam 0, sgdm 0.05]",
        minimum=0,
        section=TRAINING_SECTION,
    )
    # One of LR_SCHEDULES, or None: the optimizer's own decay (--lr-decay).
    lr_schedule: str | None = option(
        None,
        "Learning-rate schedule replacing --lr-decay's: exponential (needs --lr-decay), "
        "cosine (to 0 at the last epoch), burda (Burda et al. 2016: stage i = 0, 1, ... lasts "
        "3^i epochs at lr*10^(-i/7); 3,280 epochs are stages 0-7).",
        choices=LR_SCHEDULES,
        section=TRAINING_SECTION,
    )
    # Adam's epsilon and beta_1 (None: Keras's 1e-7 and 0.9; the IWAE authors' code has
    # 1e-4 and 0.99).
    adam_epsilon: float | None = option(
        None,
        "Adam's epsilon (the IWAE authors' code: 1e-4). [default: Keras's 1e-7]",
        minimum=0,
        exclusive_minimum=True,
        section=TRAINING_SECTION,
    )
    adam_beta1: float | None = option(
        None,
        "Adam's beta_1, the first moment's decay (the IWAE authors' code: 0.99). "
        "[default: Keras's 0.9]",
        minimum=0,
        maximum=1,
        exclusive_maximum=True,
        section=TRAINING_SECTION,
    )
    # The decoder's per-pixel output bias at the start: zeros, or the logits of the
    # training images' mean pixels ("mean").
    output_bias: str = option(
        "zeros",
        "The decoder's per-pixel output bias at the start: zeros, or mean (the logits of "
        "the training images' mean pixels, as Burda et al. 2016; dense decoders such as mlp).",
        choices=OUTPUT_BIASES,
        section=TRAINING_SECTION,
    )
    train_size: int | None = option(
        20_000,
        "Stratified, seeded subset of the 60,000 training images, or 'all'.",
        minimum=1,
        none_as="all",
        section=DATA_SECTION,
    )
    # Labelled training images (balanced over the classes, seeded: see
    # mnist_vae.data.select_labelled_set); None: every image keeps its label. A
    # semi-supervised strategy sees the rest unlabelled, a supervised conditional one
    # trains on these alone, an unconditional one refuses (mnist_vae.training.trainer).
    labels: int | None = option(
        None,
        "Labelled images the run may use, balanced over classes and seeded; the rest are "
        "used without labels by semi-supervised strategies (m2); supervised conditional "
        "strategies (cvae) train on these N images only.",
        minimum=1,
        metavar="N",
        section=DATA_SECTION,
    )
    seed: int = seed_setting(
        "Random seed: subset choice, initial weights, shuffling and sampling noise.",
        section=TRAINING_SECTION,
    )
    data: str | None = data_setting(section=DATA_SECTION)
    # One of BINARIZATIONS; runs of 0.3 recorded true/false. The flag's absence is "none".
    binarize: str = option(
        "none",
        "Binary pixels. threshold (also plain --binarize): MNIST thresholded at 0.5, as "
        "TensorFlow's CVAE tutorial does; dynamic: pixels drawn from the grey levels afresh "
        "every epoch and the test set drawn once with a fixed seed, the VAE literature's "
        "setting.",
        choices=BINARIZATIONS,
        flag_value="threshold",
        legacy={True: "threshold", False: "none"},
        section=DATA_SECTION,
    )
    # Compute precision while training (mnist_vae.training.precision); runs record the
    # resolved one.
    # float32 by default: bfloat16 trains 1.6x faster on AMX CPUs but ends 2-3 nats worse.
    precision: str = option(
        "float32",
        "Compute precision while training. mixed_bfloat16 trains faster on CPUs with "
        "bfloat16 units (AMX, AVX-512 BF16; 1.2-1.6x in docs/benchmarks.md) but ends 2-3 nats "
        "worse on the report's protocol; auto picks it on such CPUs. Saved models are float32.",
        choices=PRECISIONS,
        section=TRAINING_SECTION,
    )
    # tf.distribute set-up (mnist_vae.training.distribution): none, mirrored or multiworker.
    distribute: str = option(
        "none",
        "tf.distribute: mirrored = all local GPUs (or logical CPUs); multiworker = the "
        "machines in TF_CONFIG, where only the chief writes the run. See docs/scaling.md.",
        choices=DISTRIBUTIONS,
        section=TRAINING_SECTION,
    )
    # With distribute="mirrored": split the first CPU into this many logical devices,
    # one replica each (a way to try mirrored training without GPUs; not faster).
    cpu_devices: int | None = option(
        None,
        "With --distribute mirrored: split the CPU into N logical devices, one replica "
        "each, to try multi-device training without GPUs. Not faster: the replicas share the "
        "CPU's cores.",
        minimum=1,
        metavar="N",
        section=TRAINING_SECTION,
    )
    # Draw the run's figures (figures/*.png) when it finishes; without them the run is
    # complete all the same (class means, metrics), and evaluate draws its own.
    figures: bool = option(
        True,
        "Draw the run's figures (figures/*.png: codes, reconstructions, samples, losses) "
        "when it finishes. Without them the run is complete all the same; for quick runs and "
        "sweeps, where they take a good part of the time.",
        section=OUTPUT_SECTION,
    )
    # Also checkpoint every this many training steps within an epoch (None or 0: only at
    # epoch ends); mnist_vae.training.fitter.Fitter rounds it to whole compiled calls.
    checkpoint_steps: int | None = option(
        None,
        "Also checkpoint every N training steps within an epoch, so a kill loses at most N "
        "steps rather than up to an epoch; the resumed run skips the batches already trained "
        "and ends with the same weights. Each checkpoint writes weights and optimizer state "
        "(net1: 15-45 ms, under 1% of its 600-step epoch at batch 100): a small N trades "
        f"time and disk writes for less lost work. Training runs min(N, {STEPS_PER_CALL}) "
        f"steps per compiled call (one, in a training of at most {STEPS_PER_CALL} steps in "
        "all); a larger N is rounded down to a multiple of the steps per call.",
        minimum=1,
        none_as=0,
        metavar="N",
        flag="checkpoint_every_steps",
        shown_default="0: only at epoch ends",
        section=OUTPUT_SECTION,
    )

    def __post_init__(self) -> None:
        check_declared(self)
        _require(
            self.cpu_devices is None or self.distribute == "mirrored",
            f"--cpu-devices needs --distribute mirrored, got --distribute {self.distribute}",
        )
        self._check_labels()
        self._check_schedule()
        for name in ("adam_epsilon", "adam_beta1"):
            _require(
                getattr(self, name) is None or self.optimizer == "adam",
                f"--{name.replace('_', '-')} needs --optimizer adam, got --optimizer "
                f"{self.optimizer}",
            )

    def _check_labels(self) -> None:
        """A labelled set balanced over the classes, within the training images."""
        if self.labels is None:
            return
        _require(
            self.labels % NUM_CLASSES == 0,
            f"labels must be a multiple of the {NUM_CLASSES} classes (the labelled set is "
            f"balanced over them), got {self.labels}",
        )
        _require(
            self.train_size is None or self.labels <= self.train_size,
            f"labels {self.labels} exceeds the {self.train_size} training images (--train-size)",
        )

    def _check_schedule(self) -> None:
        """A schedule and --lr-decay only together where the schedule reads the decay."""
        schedule = self.lr_schedule
        if schedule is None:
            return
        if schedule == "exponential":
            _require(
                self.lr_decay is not None and self.lr_decay > 0,
                "--lr-schedule exponential needs --lr-decay RATE > 0 (lr * exp(-RATE * epoch))",
            )
        else:
            _require(
                self.lr_decay is None,
                f"--lr-decay does nothing with --lr-schedule {schedule}: drop one of them",
            )


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rebuild and retrain a run."""

    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"model": dataclasses.asdict(self.model), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls(
                model=_build(ModelConfig, data["model"]), train=_build(TrainConfig, data["train"])
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"config is missing or has malformed fields: {exc}") from None


def _build(kind: type, values: dict[str, Any]):
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {kind.__name__} fields: {', '.join(unknown)}")
    return kind(**values)


# -- strategy options: declared once, as dataclass fields (``option``) --------------


@dataclass(frozen=True)
class StrategyOptions:
    """Base of every strategy's options dataclass: values are type- and range-checked.

    Subclasses declare fields with ``option(...)`` and may add cross-field or
    registry checks in ``validate``.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for spec in dataclasses.fields(self):
            value = _coerce(spec.name, getattr(self, spec.name), hints[spec.name], spec.metadata)
            object.__setattr__(self, spec.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks beyond type and range (e.g. registry names); raise ``ConfigError``."""

    def check_given(self, given: Iterable[str], settings: Mapping[str, Any]) -> None:
        """Refuse an option given (``given``: the names the user set) that would do nothing
        beside the other settings: an option whose ``needs`` are not met.

        ``settings``: the run's other settings by field name (``ModelConfig`` and
        ``TrainConfig``). Only for a new configuration: a saved run keeps loading. A
        subclass may refuse more, e.g. a model setting its option replaces.
        """
        for spec in dataclasses.fields(self):
            needs = spec.metadata.get("needs")
            if needs is None or spec.name not in given:
                continue
            other, wanted = needs if isinstance(needs, tuple) else (needs, None)
            value = getattr(self, other) if hasattr(self, other) else settings.get(other)
            if not (bool(value) if wanted is None else value == wanted):
                flag = _flag(spec.name)
                raise ConfigError(
                    f"{flag} takes effect only with {needs_text(type(self), needs)}"
                    f"; add that, or drop {flag}"
                )


def needs_text(options_type: type[StrategyOptions], needs: str | tuple[str, Any]) -> str:
    """An option's ``needs`` as the user would type it: ``--posterior iaf``, ``--balance``,
    ``--capacity > 0``, ``--labels`` (for the error and the flag's help alike)."""
    other, wanted = needs if isinstance(needs, tuple) else (needs, None)
    flag = _flag(other)
    if wanted is not None:
        return flag if wanted is True else f"{flag} {wanted}"
    hints = typing.get_type_hints(options_type)
    kind = option_type(hints[other])[0] if other in hints else None
    return f"{flag} > 0" if kind in (int, float) else flag


def _flag(name: str) -> str:
    """A setting's command-line flag, from its field name (``flow_steps``: --flow-steps)."""
    return "--" + name.replace("_", "-")


def check_option(options_type: type[StrategyOptions], name: str, value: Any) -> Any:
    """One option's value checked alone against its declaration (type, choices, minimum),
    as ``options_type`` checks it among the others; returns it as the option holds it."""
    spec = next(spec for spec in dataclasses.fields(options_type) if spec.name == name)
    return _coerce(name, value, typing.get_type_hints(options_type)[name], spec.metadata)


def option_type(annotation: Any) -> tuple[type, bool]:
    """The option's base type (bool, int, float or str) and whether None is allowed."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        base, _ = option_type(members[0])
        return base, True
    if annotation in (bool, int, float, str):
        return annotation, False
    raise TypeError(f"strategy options must be bool, int, float or str (or None), not {annotation}")


def _coerce(name: str, value: Any, annotation: Any, metadata: Any) -> Any:
    kind, optional = option_type(annotation)
    flag = "--" + name.replace("_", "-")
    if value is None:
        _require(optional, f"{flag} needs a value")
        return None
    if kind is bool:
        _require(isinstance(value, bool), f"{flag} must be true or false, got {value!r}")
    elif kind is int:
        _require(
            isinstance(value, int) and not isinstance(value, bool),
            f"{flag} must be a whole number, got {value!r}",
        )
    elif kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        _require(number and math.isfinite(value), f"{flag} must be a finite number, got {value!r}")
        value = float(value)
    else:
        _require(isinstance(value, str), f"{flag} must be text, got {value!r}")
    choices = metadata.get("choices")
    if choices is not None:
        _require(value in choices, f"{flag} must be one of {', '.join(choices)}, got {value!r}")
    minimum = metadata.get("minimum")
    if minimum is not None:
        strict = metadata.get("exclusive_minimum")
        relation = ">" if strict else ">="
        _require(
            value > minimum if strict else value >= minimum,
            f"{flag} must be {relation} {minimum:g}, got {value!r}",
        )
    return value


# -- config files: TOML or JSON in RunConfig.to_dict()'s layout ----------------------

CONFIG_SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig}
# Keys of a run's config.json that record the run rather than set it up: a run's own
# config.json is a valid config file, and these are skipped there.
RUN_RECORD_KEYS = ("mnist_vae_run", "latent_shape", "data", "versions", "created", "command")
CONFIG_SUFFIXES = (".toml", ".json")


def read_config_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """A config file's settings as ``{"model": {...}, "train": {...}}``, only the keys it sets.

    The layout is ``RunConfig.to_dict()``'s: a ``model`` and a ``train`` table whose
    keys are the fields of ``ModelConfig`` and ``TrainConfig``, strategy options in
    ``model.options``. TOML or JSON, by the file's suffix. TOML has no null: a field
    left out takes its default, and ``train_size = "all"`` means the whole training set
    (JSON's null, as runs record it). A run's ``config.json`` is valid as it is: its
    record-only keys (``RUN_RECORD_KEYS``) are skipped. Unknown keys, a malformed file
    or a section that is not a table raise a one-line ``ConfigError``; the values
    themselves are checked when the ``RunConfig`` is built from them.
    """
    path = Path(path)
    content = _parse_config_file(path)
    if not isinstance(content, dict):
        raise ConfigError(
            f"{path} must hold a table of settings ('model', 'train'), "
            f"not a {type(content).__name__}"
        )
    is_run_record = "mnist_vae_run" in content or "versions" in content
    settings: dict[str, dict[str, Any]] = {}
    unknown: list[str] = []
    for key, value in content.items():
        if key in CONFIG_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"'{key}' in {path} must be a table of settings, got {value!r}")
            fields = {f.name for f in dataclasses.fields(CONFIG_SECTIONS[key])}
            unknown += [f"{key}.{name}" for name in value if name not in fields]
            settings[key] = dict(value)
        elif not (is_run_record and key in RUN_RECORD_KEYS):
            unknown.append(str(key))
    if unknown:
        raise ConfigError(_unknown_keys_message(unknown, path))
    settings.setdefault("train", {})
    model = settings.setdefault("model", {})
    if not isinstance(model.get("options", {}), dict):
        raise ConfigError(
            f"'model.options' in {path} must be a table of strategy options, "
            f"got {model['options']!r}"
        )
    for section, kind in CONFIG_SECTIONS.items():  # TOML has no null: train_size = "all"
        for spec in dataclasses.fields(kind):
            none_as = spec.metadata.get("none_as")
            if isinstance(none_as, str) and settings[section].get(spec.name) == none_as:
                settings[section][spec.name] = None
    return settings


def _parse_config_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in CONFIG_SUFFIXES:
        raise ConfigError(f"{path}: a config file must end in .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid {suffix[1:].upper()}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if suffix == ".json":
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    try:
        import tomllib
    except ImportError:  # Python 3.10: the tomli backport, if installed, reads the same
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(
                f"{path}: TOML config files need Python 3.11 or later (or the "
                "tomli package); use a .json file"
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def _unknown_keys_message(unknown: list[str], path: Path) -> str:
    """Each unknown key with its likeliest meaning, found by the last part of its name
    (``train.latent_dim`` is ``model.latent_dim``; ``train.epoch`` is ``train.epochs``)."""
    from mnist_vae.registry import close_matches

    known = list(CONFIG_SECTIONS) + [
        f"{section}.{spec.name}"
        for section, kind in CONFIG_SECTIONS.items()
        for spec in dataclasses.fields(kind)
    ]
    by_last_part: dict[str, list[str]] = {}
    for name in known:
        by_last_part.setdefault(name.rpartition(".")[2], []).append(name)

    def suggestion(key: str) -> str:
        close = [
            name
            for part in close_matches(key.rpartition(".")[2], list(by_last_part))
            for name in by_last_part[part]
            if name != key
        ]
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""

    if len(unknown) == 1:
        hint = suggestion(unknown[0])
        return f"unknown key '{unknown[0]}' in {path}" + (f"; {hint}" if hint else "")
    return f"unknown keys in {path}: " + ", ".join(
        f"'{key}'" + (f" ({hint})" if (hint := suggestion(key)) else "") for key in unknown
    )
