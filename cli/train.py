"""``mnist-vae train``: the report's protocol by default.

Its settings' flags, help sections and config-file keys are generated from their one
declaration each, the fields of ``ModelConfig`` and ``TrainConfig``
(``mnist_vae.cli.options.record_options``); the options here say how to run. The
command collects which flags were given and calls
``mnist_vae.training.run_settings.run_config_from_settings``.
"""

from __future__ import annotations

import time

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.help_sections import SectionedCommand
from mnist_vae.cli.options import (
    debug_option,
    overwrite_option,
    quiet_option,
    record_options,
    strategy_flag_names,
    strategy_options,
)
from mnist_vae.config import OUTPUT_SECTION
from mnist_vae.settings import config_fields, given_strategy_options, record_sections

TENSORBOARD_IMAGES_EVERY = 5  # mnist_vae.training.tensorboard.IMAGES_EVERY (a test checks)
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
    from mnist_vae.training import train as run_training
    from mnist_vae.training.run_settings import default_out, result_line, run_config_from_settings

    # The record settings by option name (strategy options: their flags and --option).
    values = {name: settings[name] for name in config_fields()}
    given = {name for name in values if _given(ctx, name)}
    options = given_strategy_options(settings, strategy_flag_names())
    run_config = run_config_from_settings(values, options, config_file, given)
    out = default_out(run_config) if out is None else out
    _check_out(out, overwrite, log)

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
    click.echo(result_line(run))


def _say(message: str) -> None:
    """Progress and notes go to stderr; stdout keeps the result line."""
    click.echo(message, err=True)


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
    from mnist_vae.training.run_settings import result_line

    config = interrupted_config(out)
    run = run_training(config, out, progress=not quiet, report=_say, resume=True, tensorboard=log)
    click.echo(result_line(run))
