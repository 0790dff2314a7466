"""The ``RunConfig`` of settings as a front end collects them: values given (the command
line's flags, a Python caller's keywords), a config file laid out as a run's
config.json (``--config``), and the declared defaults, in that order.

``mnist-vae train`` is a thin adapter over ``run_config_from_settings``; a Python user
gets the same merge, the same checks of a file's values (each as its flag checks what is
typed, with the same one-line errors) and the same run folder name and result line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mnist_vae.errors import ConfigError, UsageError
from mnist_vae.settings import checked_value, config_fields, flag_of, record_specs, value_kinds

if TYPE_CHECKING:
    from mnist_vae.config import RunConfig
    from mnist_vae.runs import Run


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
