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

from mnist_vae.errors import ConfigError

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
# Compute precisions (mnist_vae.training.precision) and tf.distribute set-ups
# (mnist_vae.training.distribution), named here so the config checks them cheaply.
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
DISTRIBUTIONS = ("none", "mirrored", "multiworker")
# Binary pixels: none (grey levels), threshold at 0.5 (TensorFlow's CVAE tutorial), or
# dynamic (resampled from the grey levels every epoch, the VAE literature's setting).
BINARIZATIONS = ("none", "threshold", "dynamic")
# Learning-rate schedules (mnist_vae.models.schedules); None keeps the optimizer's own
# (inverse-time with --lr-decay). Output biases: zeros, or the logits of the training
# images' mean pixels (Burda et al. 2016's initialisation).
LR_SCHEDULES = ("exponential", "cosine", "burda")
OUTPUT_BIASES = ("zeros", "mean")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value > 0,
        f"{name} must be a positive integer, got {value!r}",
    )


def _finite_number(name: str, value: Any, *, minimum: float, strict: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum)
    relation = ">" if strict else ">="
    _require(ok, f"{name} must be a finite number {relation} {minimum:g}, got {value!r}")


@dataclass(frozen=True)
class Architecture:
    """A named encoder + decoder pair, as registered in ``architectures``."""

    encoder: str
    decoder: str


@dataclass(frozen=True)
class ModelConfig:
    """What to build: networks, strategy, latent size and the ELBO's settings."""

    encoder: str
    decoder: str
    architecture: str | None = None
    strategy: str = "vae"
    latent_dim: int = 2
    likelihood: str = "bernoulli"
    beta: float = 1.0
    # None: the sigma-VAE's optimal variance, the batch's mean squared error (it learns
    # where a fixed 1.0 collapses); a number fixes it.
    gaussian_variance: float | None = None
    # Strategy-specific settings (e.g. VAE-GAN's gamma), checked by the strategy's
    # own options dataclass; see mnist_vae.models.factory.strategy_options.
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive_int("latent_dim", self.latent_dim)
        _require(isinstance(self.options, dict), "options must be a dict of strategy settings")
        _require(self.latent_dim <= 4096, f"latent_dim must be at most 4096, got {self.latent_dim}")
        _finite_number("beta", self.beta, minimum=0.0, strict=False)
        if self.gaussian_variance is not None:
            _finite_number("gaussian_variance", self.gaussian_variance, minimum=0.0, strict=True)
        for name in ("encoder", "decoder", "strategy", "likelihood"):
            value = getattr(self, name)
            _require(isinstance(value, str) and value != "", f"{name} must be a non-empty name")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the report's protocol is the default."""

    epochs: int = 40
    batch_size: int = 400
    learning_rate: float = 0.005
    optimizer: str = "adam"
    lr_decay: float | None = None
    # One of LR_SCHEDULES, or None: the optimizer's own decay (--lr-decay).
    lr_schedule: str | None = None
    # Adam's epsilon and beta_1 (None: Keras's 1e-7 and 0.9; the IWAE authors' code has
    # 1e-4 and 0.99).
    adam_epsilon: float | None = None
    adam_beta1: float | None = None
    # The decoder's per-pixel output bias at the start: zeros, or the logits of the
    # training images' mean pixels ("mean").
    output_bias: str = "zeros"
    train_size: int | None = 20_000
    seed: int = 0
    data: str | None = None
    binarize: str = "none"  # one of BINARIZATIONS; runs of 0.3 recorded true/false
    # Compute precision while training (mnist_vae.training.precision); runs record the
    # resolved one.
    # float32 by default: bfloat16 trains 1.6x faster on AMX CPUs but ends 2-3 nats worse.
    precision: str = "float32"
    # tf.distribute set-up (mnist_vae.training.distribution): none, mirrored or multiworker.
    distribute: str = "none"
    # With distribute="mirrored": split the first CPU into this many logical devices,
    # one replica each (a way to try mirrored training without GPUs; not faster).
    cpu_devices: int | None = None
    # Also checkpoint every this many training steps within an epoch (None or 0: only at
    # epoch ends); mnist_vae.training.fitter.Fitter rounds it to whole compiled calls.
    checkpoint_steps: int | None = None
    # Labelled training images (balanced over the classes, seeded: see
    # mnist_vae.data.select_labelled_set); None: every image keeps its label. A
    # semi-supervised strategy sees the rest unlabelled, a supervised conditional one
    # trains on these alone, an unconditional one refuses (mnist_vae.training.trainer).
    labels: int | None = None
    # Draw the run's figures (figures/*.png) when it finishes; without them the run is
    # complete all the same (class means, metrics), and evaluate draws its own.
    figures: bool = True

    def __post_init__(self) -> None:
        _require(isinstance(self.figures, bool), f"figures must be true or false, got "
                 f"{self.figures!r}")  # fmt: skip
        if isinstance(self.binarize, bool):  # config.json of 0.3 runs
            object.__setattr__(self, "binarize", "threshold" if self.binarize else "none")
        _require(
            self.binarize in BINARIZATIONS,
            f"binarize must be one of {', '.join(BINARIZATIONS)}, got {self.binarize!r}",
        )
        _require(
            self.distribute in DISTRIBUTIONS,
            f"distribute must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribute!r}",
        )
        _require(
            self.precision in PRECISIONS,
            f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}",
        )
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        _positive_int("train_size", self.train_size, allow_none=True)
        if type(self.checkpoint_steps) is int and self.checkpoint_steps == 0:
            object.__setattr__(self, "checkpoint_steps", None)  # 0: only at epoch ends
        _positive_int("checkpoint_steps", self.checkpoint_steps, allow_none=True)
        _positive_int("cpu_devices", self.cpu_devices, allow_none=True)
        _require(
            self.cpu_devices is None or self.distribute == "mirrored",
            f"--cpu-devices needs --distribute mirrored, got --distribute {self.distribute}",
        )
        _positive_int("labels", self.labels, allow_none=True)
        if self.labels is not None:
            _require(
                self.labels % NUM_CLASSES == 0,
                f"labels must be a multiple of the {NUM_CLASSES} classes (the labelled set is "
                f"balanced over them), got {self.labels}",
            )
            _require(
                self.train_size is None or self.labels <= self.train_size,
                f"labels {self.labels} exceeds the {self.train_size} training images "
                "(--train-size)",
            )
        _finite_number("learning_rate", self.learning_rate, minimum=0.0, strict=True)
        if self.lr_decay is not None:
            _finite_number("lr_decay", self.lr_decay, minimum=0.0, strict=False)
        self._check_schedule()
        if self.adam_epsilon is not None:
            _finite_number("adam_epsilon", self.adam_epsilon, minimum=0.0, strict=True)
        if self.adam_beta1 is not None:
            _finite_number("adam_beta1", self.adam_beta1, minimum=0.0, strict=False)
            _require(self.adam_beta1 < 1, f"adam_beta1 must be < 1, got {self.adam_beta1!r}")
        for name in ("adam_epsilon", "adam_beta1"):
            _require(
                getattr(self, name) is None or self.optimizer == "adam",
                f"--{name.replace('_', '-')} needs --optimizer adam, got --optimizer "
                f"{self.optimizer}",
            )
        _require(
            self.output_bias in OUTPUT_BIASES,
            f"output_bias must be one of {', '.join(OUTPUT_BIASES)}, got {self.output_bias!r}",
        )
        _require(
            isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0,
            f"seed must be a non-negative integer, got {self.seed!r}",
        )


    def _check_schedule(self) -> None:
        """A schedule and --lr-decay only together where the schedule reads the decay."""
        schedule = self.lr_schedule
        if schedule is None:
            return
        _require(
            schedule in LR_SCHEDULES,
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {schedule!r}",
        )
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


# -- strategy options: declared once, as dataclass fields -------------------------


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    exclusive_minimum: bool = False,
    metavar: str | None = None,
    needs: str | tuple[str, Any] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Any:
    """A strategy option: its default, help text, bounds and what it needs, in one place.

    The field's type annotation is its type; the CLI builds its ``--flag`` from all
    of this, and ``StrategyOptions`` checks values against it. ``needs`` names the
    setting without which the option does nothing, so giving it alone is refused
    (``StrategyOptions.check_given``): a name (another option of the strategy, or a
    ``ModelConfig``/``TrainConfig`` field) that must be on (true, above 0, set), or a
    (name, value) pair that must hold. ``cli``: how a command-line flag spells it where
    the field alone does not say (``flag`` name, ``registry`` of its names, ``maximum``,
    ``repeat`` for a repeatable flag, ``path: "run"``), for settings records beyond
    strategies (e.g. the benchmarks' configs).
    """
    metadata = {
        "help": help,
        "choices": choices,
        "minimum": minimum,
        "exclusive_minimum": exclusive_minimum,
        "metavar": metavar,
        "needs": needs,
    }
    if cli:
        metadata["cli"] = dict(cli)
    if isinstance(default, dict):  # mutable: each record gets its own copy
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


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
                raise ConfigError(f"{flag} takes effect only with {needs_text(type(self), needs)}"
                                  f"; add that, or drop {flag}")  # fmt: skip


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
        raise ConfigError(f"{path} must hold a table of settings ('model', 'train'), "
                          f"not a {type(content).__name__}")  # fmt: skip
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
    model, train = settings.setdefault("model", {}), settings.setdefault("train", {})
    if not isinstance(model.get("options", {}), dict):
        raise ConfigError(f"'model.options' in {path} must be a table of strategy options, "
                          f"got {model['options']!r}")  # fmt: skip
    if train.get("train_size") == "all":
        train["train_size"] = None
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
            raise ConfigError(f"{path}: TOML config files need Python 3.11 or later (or the "
                              "tomli package); use a .json file") from None  # fmt: skip
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
