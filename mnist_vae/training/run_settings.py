"""The ``RunConfig`` of settings as a front end collects them: values given (the command
line's flags, a Python caller's keywords), a config file laid out as a run's
config.json (``--config``), and the declared defaults, in that order.

``mnist-vae train`` is a thin adapter over ``train_from_settings`` (its run controls,
``RunControls``, then ``run_config_from_settings``); a Python user gets the same merge,
the same checks of a file's values (each as its flag checks what is typed, with the same
one-line errors) and the same run folder name and result line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnist_vae.config import TENSORBOARD_IMAGES_EVERY
from mnist_vae.declarations import option, overwrite_setting
from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.settings import (
    checked_value,
    config_fields,
    flag_of,
    given_strategy_options,
    record_specs,
    value_kinds,
)

if TYPE_CHECKING:
    from mnist_vae.config import RunConfig
    from mnist_vae.runs import Run


@dataclass(frozen=True)
class RunControls:
    """How ``mnist-vae train`` runs, beside what it trains (``ModelConfig``,
    ``TrainConfig``): the config file, the run folder, resuming and TensorBoard. The
    command's flags are these fields, declared here once."""

    config_file: str | None = option(
        None,
        "Settings from a TOML or JSON file laid out as a run's config.json ([model] and "
        "[train] tables; a run's own config.json repeats that run). Options given on the "
        "command line override it; defaults do not. See docs/usage.md.",
        path="existing file",
        metavar="FILE",
        flag="config",
    )
    out: str | None = option(
        None,
        "Run directory to create. [default: runs/ARCH-STRATEGY-zLATENT-sSEED-TIME]",
        path="folder",
    )
    overwrite: bool = overwrite_setting()
    resume: str | None = option(
        None,
        "Continue the interrupted run OUT (killed, crashed or Ctrl-C'd) from its last "
        "checkpoint, with its own settings (--epochs N beside it moves where it ends). "
        "Running the same command again does the same.",
        path="folder",
        metavar="OUT",
    )
    restart: bool = option(
        False, "Discard an interrupted run of --out and start afresh.", switch=True
    )
    tensorboard: str | None = option(
        None,
        "Also log the training for TensorBoard into DIR: every loss per epoch (training "
        "and test), the learning rate, and test reconstructions and prior samples as images. "
        "View with 'tensorboard --logdir DIR'. Needs pip install 'mnist-vae[tensorboard]'.",
        path="folder",
        metavar="DIR",
    )
    tensorboard_images_every: int = option(
        TENSORBOARD_IMAGES_EVERY,
        "With --tensorboard: log the images every N epochs, and after the last.",
        minimum=1,
        metavar="N",
    )


# Settings that only say how to run, not what to train: allowed beside --resume.
# --overwrite beside --resume: the resumed run may replace a finished run of OUT (the
# interrupted one was started to replace it; a resume knows that by itself if it was).
RESUME_COMPATIBLE = {
    "resume",
    "overwrite",
    "quiet",
    "debug",
    "tensorboard",
    "tensorboard_images_every",
}
# What --resume may change of the run itself: how long it goes on (replan_epochs).
RESUME_REPLANNED = {"epochs"}


def train_from_settings(
    controls: RunControls,
    settings: Mapping[str, Any],
    given: Mapping[str, str],
    *,
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> tuple[Run | None, str]:
    """``mnist-vae train`` as one call: ``settings`` (the records' values by option name,
    the strategies' flags and ``option`` pairs) merged by ``run_config_from_settings``,
    or with ``controls.resume`` the interrupted run's own. ``given``: the settings given
    (not defaulted), each with its flag as typed, for the errors. Everything is checked
    before any work. Returns the run (None on a multi-worker task other than the chief)
    and its folder."""
    from mnist_vae.training import train  # the package's name: the seam tests replace
    from mnist_vae.training.trainer import UnusedLabelsError

    log = _tensorboard_log(controls, given)
    if controls.resume is not None:
        replanned = {name: settings[name] for name in RESUME_REPLANNED if name in given}
        return _train_resumed(controls, given, replanned, progress, report, log), controls.resume
    run_config = planned_config(controls, settings, given)
    out = default_out(run_config) if controls.out is None else controls.out
    _check_out(out, controls.overwrite, log)
    _check_inputs_outside(out, run_config)
    try:
        run = train(
            run_config,
            out,
            overwrite=controls.overwrite,
            progress=progress,
            report=report,
            restart=controls.restart,
            tensorboard=log,
        )
    except UnusedLabelsError as error:
        if controls.config_file is None or "labels" in given:
            raise
        raise ConfigError(  # the labels came from the file: say so, and what to change
            f"train.labels {error.labels} in {controls.config_file}: {error.problem}; remove "
            "it from the file, or give a semi-supervised (m2, m1_m2) or conditional (cvae) "
            "--strategy"
        ) from None
    return run, out


def planned_config(
    controls: RunControls, settings: Mapping[str, Any], given: Mapping[str, str]
) -> RunConfig:
    """The checked ``RunConfig`` a new training of ``settings`` would train (arguments as
    ``train_from_settings`` takes them), without training."""
    from mnist_vae.registry_index import load_index

    values = {name: settings[name] for name in config_fields()}
    flags = [spec["name"] for spec in load_index()["strategy_flags"]]
    options = given_strategy_options(settings, flags)
    given_values = {name for name in given if name in values}
    return run_config_from_settings(values, options, controls.config_file, given_values)


def _tensorboard_log(controls: RunControls, given: Mapping[str, str]) -> Any:
    """``--tensorboard DIR``'s log, checked before any work (the package must be there)."""
    if controls.tensorboard is None:
        if "tensorboard_images_every" in given:
            raise UsageError("--tensorboard-images-every needs --tensorboard DIR")
        return None
    from mnist_vae.training.tensorboard import TensorBoardLog

    return TensorBoardLog(controls.tensorboard, images_every=controls.tensorboard_images_every)


def _check_out(out: str, overwrite: bool, log: Any) -> None:
    """Fail on an unusable run directory before loading data or training."""
    from mnist_vae.io import check_output_dir
    from mnist_vae.runs.interrupted import TRAINING, leftover_intent

    if log is not None:
        log.check_outside(out)
    if leftover_intent(out, TRAINING) is None:  # else a finished run to tidy, if the same
        check_output_dir(out, overwrite=overwrite, kind="run")


def _check_inputs_outside(out: str, run_config: RunConfig) -> None:
    """Refuse an ``out`` that holds a file or run the training reads (``--m1-run``,
    ``--classifier-weights``): ``--overwrite`` would replace it with the new run."""
    import os

    folder = os.path.realpath(os.path.expanduser(out))
    for name, value in run_config.model.options.items():
        if not isinstance(value, str) or value.startswith("pretrained:"):
            continue
        read = os.path.realpath(os.path.expanduser(value))
        if os.path.exists(read) and (read == folder or read.startswith(folder + os.sep)):
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"--out {out} holds {value}, which this training reads ({flag}); "
                "choose another --out"
            )


def _train_resumed(
    controls: RunControls,
    given: Mapping[str, str],
    replanned: Mapping[str, Any],
    progress: bool,
    report: Callable[[str], None],
    log: Any,
) -> Run | None:
    """``--resume OUT``: the interrupted run's own config; ``--epochs`` may change its end."""
    from mnist_vae.training import train
    from mnist_vae.training.trainer import interrupted_config, replan_epochs

    allowed = RESUME_COMPATIBLE | RESUME_REPLANNED
    refused = [flag for name, flag in given.items() if name not in allowed]
    if refused:
        flags = ", ".join(sorted(refused))
        raise UsageError(
            f"--resume continues with the run's own settings (--epochs aside); drop {flags}"
        )
    if log is not None:
        log.check_outside(controls.resume)
    config = interrupted_config(controls.resume)
    if "epochs" in replanned:
        config = replan_epochs(config, controls.resume, replanned["epochs"])
    return train(
        config,
        controls.resume,
        overwrite=controls.overwrite,
        progress=progress,
        report=report,
        resume=True,
        tensorboard=log,
    )


def run_config_from_settings(
    values: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    config_file: str | None = None,
    given: Iterable[str] | None = None,
) -> RunConfig:
    """The checked ``RunConfig`` of the settings ``values`` (keys: ``config_fields()``,
    the record fields, e.g. ``epochs``; those left out take their declared default) and
    the strategy options ``options``, over the file ``config_file``.

    ``given``: the settings the user gave (the CLI's flags not defaulted), which win over
    the file; by default every key of ``values``.
    """
    fields, specs = config_fields(), record_specs()
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError(f"unknown settings: {', '.join(unknown)}")
    given = set(values) if given is None else set(given)
    merged = {name: values[name] if name in values else specs[name]["default"] for name in fields}
    merged, chosen = resolve_settings(merged, dict(options or {}), config_file, given)
    return build_run_config(merged, chosen)


def resolve_settings(
    values: dict[str, Any],
    options: dict[str, Any],
    config_file: str | None,
    given: set[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values of ``config_fields()``' settings and the strategy options, as trained.

    A setting in ``given`` wins; else the ``config_file``'s value; else ``values``' (the
    default). A file's encoder and decoder belong to its architecture, and its strategy
    options to its strategy: a given architecture (or another strategy) sets those afresh.
    """
    if config_file is None:
        return values, options
    from mnist_vae.config import read_config_file

    settings = read_config_file(config_file)
    values, given = dict(values), set(given)
    if "architecture" in given:
        given |= {"encoder", "decoder"}
    for name, (section, field) in config_fields().items():
        if field in settings[section]:
            value = _file_value(name, settings[section][field], config_file)
            if name not in given:
                values[name] = value
    file_strategy = settings["model"].get("strategy", record_specs()["strategy"]["default"])
    file_options = settings["model"].get("options", {})
    if file_options:
        from mnist_vae.models import check_option_values

        try:
            check_option_values(file_strategy, file_options)
        except ConfigError as error:
            raise ConfigError(f"model.options in {config_file}: {error}") from None
    if values["strategy"] == file_strategy:
        options = {**file_options, **options}
    return values, options


def _file_value(name: str, value: Any, path: str) -> Any:
    """A config file's value for the setting ``name``, checked as the flag's own value is
    (type, range, choices, existing path), so a bad value is refused before any work,
    naming the key, the file and the flag."""
    section, field = config_fields()[name]
    spec = record_specs()[name]
    key, flag = f"{section}.{field}", flag_of(spec)
    if isinstance(value, bool) and value in (spec["legacy"] or {}):  # recorded by older runs
        value = spec["legacy"][value]
    if spec["flag_value"] and value in (None, spec["default"]):
        return spec["default"]  # the flag left out, as a run's config.json records it

    def refuse(problem: str) -> ConfigError:
        return ConfigError(
            f"{key} in {path}: {problem}; correct the file, or override it with {flag}"
        )

    if value is None:
        if spec["default"] is None or spec["none_as"] is not None:
            return None  # null: the flag left out, or --train-size all, as runs record them
        raise refuse(f"needs a value, as {flag} does")
    wanted = value_kinds(spec)
    if not isinstance(value, wanted) or (bool not in wanted and isinstance(value, bool)):
        kind = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}[
            wanted[-1]
        ]
        raise refuse(f"must be {kind} (as {flag} takes), got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise refuse(f"must be a finite number, got {value!r}")
    try:
        return checked_value(spec, value)
    except ConfigError as error:
        raise refuse(str(error).rstrip(".")) from None


def build_run_config(values: Mapping[str, Any], options: Mapping[str, Any]) -> RunConfig:
    """The RunConfig of the setting values ``values`` (keys: ``config_fields()``), checked:
    also that no strategy option given would do nothing beside the other settings."""
    import dataclasses

    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.models import model_config, strategy_options
    from mnist_vae.registry import optimizers

    fields: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    for name, (section, field) in config_fields().items():
        fields[section][field] = values[name]
    model, train = fields["model"], fields["train"]
    networks = {key: model.pop(key) for key in ("architecture", "encoder", "decoder")}
    if networks["architecture"] is None and not (networks["encoder"] and networks["decoder"]):
        del networks["architecture"]  # model_config's default architecture
    model_settings = model_config(**networks, options=dict(options), **model)
    optimizers.check(train["optimizer"])
    run_config = RunConfig(model=model_settings, train=TrainConfig(**train))
    chosen = strategy_options(model_settings)
    if chosen is not None:
        settings = {**dataclasses.asdict(model_settings), **dataclasses.asdict(run_config.train)}
        chosen.check_given(model_settings.options, settings)
    return run_config


def default_out(config: RunConfig) -> str:
    """Where a run goes unless told: ``runs/ARCH-STRATEGY-zLATENT-sSEED-TIME``."""
    model = config.model
    name = model.architecture or f"{model.encoder}+{model.decoder}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"runs/{name}-{model.strategy}-z{model.latent_dim}-s{config.train.seed}-{stamp}"


def result_line(run: Run) -> str:
    """The line a finished training reports: the test negative ELBO (and classifier error)."""
    test = run.metrics["test"]
    line = (
        f"{run.path}: test negative ELBO {test['negative_elbo']:.2f} nats "
        f"(reconstruction {test['reconstruction']:.2f}, KL {test['kl']:.2f})"
    )
    if "classifier_error" in test:
        line += f"; classifier error {100 * test['classifier_error']:.2f}%"
    return line
