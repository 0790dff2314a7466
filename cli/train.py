"""``mnist-vae train``: the report's protocol by default.

Its settings' flags, help sections and config-file keys are generated from their one
declaration each, the fields of ``ModelConfig`` and ``TrainConfig``
(``mnist_vae.cli.options.record_options``); how to run (the config file, the run folder,
resuming, TensorBoard) from ``RunControls``'s. The command collects which flags were
given and calls ``mnist_vae.training.run_settings.train_from_settings``.
"""

from __future__ import annotations

import time

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.help_sections import SectionedCommand
from mnist_vae.cli.options import (
    debug_option,
    quiet_option,
    record_options,
    request_options,
    strategy_flag_names,
    strategy_options,
)
from mnist_vae.config import OUTPUT_SECTION
from mnist_vae.settings import record_sections, taken_record
from mnist_vae.training.run_settings import (
    RunControls,
    planned_config,
    result_line,
    train_from_settings,
)

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
@request_options(RunControls)
@record_options
@strategy_options
@quiet_option(help="No progress: no bars, no progress lines, no per-epoch lines.")
@debug_option
@handle_errors
@click.pass_context
def train(ctx, quiet, **settings) -> None:
    """Train a VAE and write a run directory (config, model, metrics, figures).

    The defaults are the report's protocol: net1, 2-D latent, 20,000 training
    images, 40 epochs, batch 400, Adam at a constant learning rate of 0.005.
    Options marked [STRATEGY] apply to that --strategy only (see docs/strategies.md).
    """
    controls = taken_record(RunControls, settings)
    given = {name: _flag(ctx, name) for name in ctx.params if _given(ctx, name)}
    start = time.perf_counter()
    run, out = train_from_settings(controls, settings, given, progress=not quiet, report=_say)
    if run is None:  # a multi-worker task other than the chief: the chief writes the run
        seconds = time.perf_counter() - start
        click.echo(f"worker finished in {seconds:.0f} s; the chief writes {out}")
        return
    if not quiet and controls.resume is None:
        _say(f"finished in {time.perf_counter() - start:.0f} s")
    click.echo(result_line(run))


def config_of(arguments: list[str]) -> dict:
    """The config (``model`` and ``train`` sections, as a run's config.json holds them)
    that ``mnist-vae ARGUMENTS`` (``train ...``) would train, read without training."""
    if arguments[:1] != ["train"]:
        raise ValueError(f"not a training: {arguments}")
    with train.make_context("train", list(arguments[1:])) as ctx:
        settings = dict(ctx.params)
        given = {name: _flag(ctx, name) for name in ctx.params if _given(ctx, name)}
    settings.pop("quiet"), settings.pop("debug")
    controls = taken_record(RunControls, settings)
    return planned_config(controls, settings, given).to_dict()


def _say(message: str) -> None:
    """Progress and notes go to stderr; stdout keeps the result line."""
    click.echo(message, err=True)


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
