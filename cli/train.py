"""``mnist-vae train``: the report's protocol by default.

Its settings' flags, help sections and config-file keys are generated from their one
declaration each, the fields of ``ModelConfig`` and ``TrainConfig``
(``mnist_vae.cli.options.record_options``); the options here say how to run.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.help_sections import SectionedCommand
from mnist_vae.cli.options import (
    CountOrWord,
    debug_option,
    overwrite_option,
    quiet_option,
    record_options,
    strategy_flag_names,
    strategy_options,
)
from mnist_vae.config import OUTPUT_SECTION
from mnist_vae.errors import ConfigError
from mnist_vae.settings import config_fields, given_strategy_options, record_sections, record_specs

if TYPE_CHECKING:
    from mnist_vae.config import RunConfig

TENSORBOARD_IMAGES_EVERY = 5  # mnist_vae.training.tensorboard.IMAGES_EVERY (a test checks)
# Each option that sets a field of the RunConfig -> that field as RunConfig.to_dict() nests
# it (and a --config file sets it). Strategy options (model.options) come from their own
# flags and --option.
CONFIG_FIELDS = config_fields()
STRATEGY_SECTION = "Strategy options ([STRATEGY]: that --strategy only)"


def help_sections() -> dict[str, list[str]]:
    """``train --help``'s sections: the settings under the titles they declare, the other
    options around them (every option is in one; a test checks)."""
    sections = {"Config file": ["config_file"], **record_sections()}
    output = sections[OUTPUT_SECTION]
    sections[OUTPUT_SECTION] = ["out", "overwrite", *output, "resume", "restart"]
    sections["Monitoring"] = ["quiet", "tensorboard", "tensorboard_images_every"]
    sections[STRATEGY_SECTION] = [*strategy_flag_names(), "option"]
    sections["Other"] = ["debug", "help"]
    return sections


@click.command(
    cls=SectionedCommand, help_sections=help_sections, context_settings={"show_default": True}
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Settings from a TOML or JSON file laid out as a run's config.json ([model] and "
    "[train] tables; a run's own config.json repeats that run). Options given on the "
    "command line override it; defaults do not. See docs/usage.md.",
)
@record_options
@strategy_options
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory to create. [default: runs/ARCH-STRATEGY-zLATENT-sSEED-TIME]",
)
@overwrite_option
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    metavar="OUT",
    help="Continue the interrupted run OUT (killed, crashed or Ctrl-C'd) from its last "
    "checkpoint, with its own settings. Running the same command again does the same.",
)
@click.option(
    "--restart", is_flag=True, help="Discard an interrupted run of --out and start afresh."
)
@quiet_option(help="No progress: no bars, no progress lines, no per-epoch lines.")
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Also log the training for TensorBoard into DIR: every loss per epoch (training "
    "and test), the learning rate, and test reconstructions and prior samples as images. "
    "View with 'tensorboard --logdir DIR'. Needs pip install 'mnist-vae[tensorboard]'.",
)
@click.option(
    "--tensorboard-images-every",
    type=click.IntRange(min=1),
    metavar="N",
    default=TENSORBOARD_IMAGES_EVERY,
    help="With --tensorboard: log the images every N epochs, and after the last.",
)
@debug_option
@handle_errors
@click.pass_context
def train(
    ctx,
    config_file,
    out,
    overwrite,
    resume,
    restart,
    quiet,
    tensorboard,
    tensorboard_images_every,
    **settings,
) -> None:
    """Train a VAE and write a run directory (config, model, metrics, figures).

    The defaults are the report's protocol: net1, 2-D latent, 20,000 training
    images, 40 epochs, batch 400, Adam at a constant learning rate of 0.005.
    Options marked [STRATEGY] apply to that --strategy only (see docs/strategies.md).
    """
    log = _tensorboard_log(ctx, tensorboard, tensorboard_images_every)
    if resume is not None:
        _train_resumed(ctx, resume, quiet, log)
        return
    run_config = build_run_config(*resolve_settings(ctx, config_file))
    out = _default_out(run_config) if out is None else out
    _check_out(out, overwrite, log)
    from mnist_vae.training import train as run_training

    start = time.perf_counter()
    run = run_training(
        run_config,
        out,
        overwrite=overwrite,
        progress=not quiet,
        report=_say,
        restart=restart,
        tensorboard=log,
    )
    if run is None:  # a multi-worker task other than the chief: the chief writes the run
        seconds = time.perf_counter() - start
        click.echo(f"worker finished in {seconds:.0f} s; the chief writes {out}")
        return
    if not quiet:
        _say(f"finished in {time.perf_counter() - start:.0f} s")
    click.echo(_result_line(run))


def _say(message: str) -> None:
    """Progress and notes go to stderr; stdout keeps the result line."""
    click.echo(message, err=True)


def _default_out(config: RunConfig) -> str:
    """``runs/ARCH-STRATEGY-zLATENT-sSEED-TIME``."""
    model = config.model
    name = model.architecture or f"{model.encoder}+{model.decoder}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"runs/{name}-{model.strategy}-z{model.latent_dim}-s{config.train.seed}-{stamp}"


def _check_out(out: str, overwrite: bool, log) -> None:
    """Fail on an unusable run directory before loading data or training."""
    from mnist_vae.io import check_output_dir
    from mnist_vae.runs.interrupted import TRAINING, leftover_intent

    if log is not None:
        log.check_outside(out)
    if leftover_intent(out, TRAINING) is None:  # else a finished run to tidy, if the same
        check_output_dir(out, overwrite=overwrite)


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the option ``name`` was given (command line or environment), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source not in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
    )


def _flag(ctx: click.Context, name: str) -> str:
    """The option ``name`` as the user types it (``checkpoint_steps``: --checkpoint-every-steps)."""
    param = next((p for p in ctx.command.params if p.name == name), None)
    return max(param.opts, key=len) if param is not None else "--" + name.replace("_", "-")


def resolve_settings(
    ctx: click.Context, config_file: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values of ``CONFIG_FIELDS``' options and the strategy options, as trained.

    An option given on the command line wins; else the ``--config`` file's value; else
    the option's default. A file's encoder and decoder belong to its architecture, and
    its strategy options to its strategy: an --arch (or a different --strategy) on the
    command line sets those afresh.
    """
    values = {name: ctx.params[name] for name in CONFIG_FIELDS}
    options = given_strategy_options(ctx.params, strategy_flag_names())
    if config_file is None:
        return values, options
    from mnist_vae.config import read_config_file

    settings = read_config_file(config_file)
    given = {name for name in CONFIG_FIELDS if _given(ctx, name)}
    if "architecture" in given:
        given |= {"encoder", "decoder"}
    for name, (section, field) in CONFIG_FIELDS.items():
        if field in settings[section]:
            value = _file_value(ctx, name, settings[section][field], config_file)
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


def _file_value(ctx: click.Context, name: str, value: Any, path: str) -> Any:
    """A ``--config`` file's value for the option ``name``, checked as the flag's own value
    is: the flag's click type (type, range, choices, existing path) converts it, so a bad
    value exits 2 before any work, naming the key and the file."""
    section, field = CONFIG_FIELDS[name]
    key, flag, spec = f"{section}.{field}", _flag(ctx, name), record_specs()[name]
    param = next(p for p in ctx.command.params if p.name == name)
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
    wanted = _file_kinds(param)
    if not isinstance(value, wanted) or (bool not in wanted and isinstance(value, bool)):
        kind = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}[
            wanted[-1]
        ]
        raise refuse(f"must be {kind} (as {flag} takes), got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise refuse(f"must be a finite number, got {value!r}")
    try:
        return param.type_cast_value(ctx, value)
    except click.BadParameter as error:
        raise refuse(error.message.rstrip(".")) from None


def _file_kinds(param: click.Parameter) -> tuple[type, ...]:
    """The JSON/TOML types a file may give for the option ``param``, from its click type."""
    kind = param.type
    if isinstance(kind, click.types.BoolParamType):
        return (bool,)
    if isinstance(kind, (click.types.IntParamType, CountOrWord)):
        return (int,)
    if isinstance(kind, click.types.FloatParamType):
        return (int, float)
    return (str,)


def build_run_config(values: dict[str, Any], options: dict[str, Any]) -> RunConfig:
    """The RunConfig of the option values ``values`` (keys: ``CONFIG_FIELDS``), checked:
    also that no strategy option given would do nothing beside the other settings."""
    import dataclasses

    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.models import model_config, strategy_options
    from mnist_vae.registry import optimizers

    fields: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    for name, (section, field) in CONFIG_FIELDS.items():
        fields[section][field] = values[name]
    model, train = fields["model"], fields["train"]
    networks = {key: model.pop(key) for key in ("architecture", "encoder", "decoder")}
    if networks["architecture"] is None and not (networks["encoder"] and networks["decoder"]):
        del networks["architecture"]  # model_config's default architecture
    model_settings = model_config(**networks, options=options, **model)
    optimizers.check(train["optimizer"])
    run_config = RunConfig(model=model_settings, train=TrainConfig(**train))
    chosen = strategy_options(model_settings)
    if chosen is not None:
        settings = {**dataclasses.asdict(model_settings), **dataclasses.asdict(run_config.train)}
        chosen.check_given(model_settings.options, settings)
    return run_config


def _tensorboard_log(ctx: click.Context, log_dir: str | None, images_every: int):
    """``--tensorboard DIR``'s log, checked before any work (the package must be there)."""
    if log_dir is None:
        if _given(ctx, "tensorboard_images_every"):
            from mnist_vae.errors import UsageError

            raise UsageError("--tensorboard-images-every needs --tensorboard DIR")
        return None
    from mnist_vae.training.tensorboard import TensorBoardLog

    return TensorBoardLog(log_dir, images_every=images_every)


# Options that only say how to run, not what to train: allowed beside --resume.
RESUME_COMPATIBLE = {"resume", "quiet", "debug", "tensorboard", "tensorboard_images_every"}


def _train_resumed(ctx: click.Context, out: str, quiet: bool, log=None) -> None:
    """``--resume OUT``: the interrupted run's own config, nothing else given."""
    from mnist_vae.errors import UsageError
    from mnist_vae.training import train as run_training
    from mnist_vae.training.trainer import interrupted_config

    given = [name for name in ctx.params if name not in RESUME_COMPATIBLE and _given(ctx, name)]
    if given:
        flags = ", ".join(sorted(_flag(ctx, name) for name in given))
        raise UsageError(f"--resume continues with the run's own settings; drop {flags}")
    if log is not None:
        log.check_outside(out)
    config = interrupted_config(out)
    run = run_training(config, out, progress=not quiet, report=_say, resume=True, tensorboard=log)
    click.echo(_result_line(run))


def _result_line(run) -> str:
    """The line a finished training prints: the test negative ELBO (and classifier error)."""
    test = run.metrics["test"]
    line = (
        f"{run.path}: test negative ELBO {test['negative_elbo']:.2f} nats "
        f"(reconstruction {test['reconstruction']:.2f}, KL {test['kl']:.2f})"
    )
    if "classifier_error" in test:
        line += f"; classifier error {100 * test['classifier_error']:.2f}%"
    return line
