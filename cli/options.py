"""Options shared by several commands, defined once."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import click

from mnist_vae.config import TrainConfig

DEFAULTS = TrainConfig()


def debug_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--debug", is_flag=True, help="Show full tracebacks instead of one-line errors."
    )(command)


def seed_option(
    help: str = "Random seed.",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--seed``, with a help text saying what the seed controls in that command."""
    return click.option(
        "--seed",
        type=click.IntRange(0, 2**32 - 1),
        default=DEFAULTS.seed,
        show_default=True,
        help=help,
    )


def data_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data",
        type=click.Path(exists=True, readable=True, dir_okay=True, file_okay=True),
        default=None,
        help="A Keras-layout .npz (x_train, y_train, x_test, y_test) or a directory of "
        "MNIST IDX files (.gz or raw). Default: $MNIST_VAE_DATA, the local cache, TFDS, PyPI.",
    )(command)


def overwrite_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace existing output (only once the new one is complete).",
    )(command)


def run_argument(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("run", type=click.Path(file_okay=False, path_type=str))(command)


def _strategy_option_declarations() -> list:
    from types import SimpleNamespace

    from mnist_vae.zoo.strategies import TaskOptions, VaeGanOptions

    # Defaults read from the dataclasses without building them: building checks names
    # against the registries, which would load every plugin just to print --help.
    gan, task = (
        SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(kind)})
        for kind in (VaeGanOptions, TaskOptions)
    )

    def option(*names: str, help: str, default_text: Any, **kwargs: Any):
        return click.option(
            *names, default=None, help=f"{help} [default: {default_text}]", **kwargs
        )

    return [
        option("--discriminator", help="[vaegan] Registered discriminator.",
               default_text=gan.discriminator),
        option("--feature-layer", type=click.IntRange(min=1),
               help="[vaegan] Discriminator hidden layer whose features measure reconstruction.",
               default_text=gan.feature_layer),
        option("--feature-variance", type=click.FloatRange(min=0, min_open=True),
               help="[vaegan] Variance of the Gaussian feature likelihood: smaller weighs "
               "the feature reconstruction more against the KL.",
               default_text=f"{gan.feature_variance:g}"),
        option("--gamma", type=click.FloatRange(min=0),
               help="[vaegan] Weight of the feature reconstruction in the decoder's loss.",
               default_text=f"{gan.gamma:g}"),
        option("--balance/--no-balance",
               help="[vaegan] Equilibrium gating of decoder and discriminator updates.",
               default_text="balance"),
        option("--equilibrium", type=float,
               help="[vaegan] Discriminator BCE the gating aims for.",
               default_text=gan.equilibrium),
        option("--margin", type=click.FloatRange(min=0),
               help="[vaegan] Gating margin around the equilibrium.", default_text=gan.margin),
        option("--pixel-warmup", type=click.IntRange(min=0),
               help="[vaegan] Epochs of plain pixel-likelihood VAE training first.",
               default_text=gan.pixel_warmup),
        option("--classifier", help="[classifier] Registered digit classifier.",
               default_text=task.classifier),
        option("--classifier-weights", type=click.Path(dir_okay=False),
               help="[classifier] Pre-trained weights (.weights.h5, or a .keras classifier such "
               "as a run's classifier.keras); the classifier is then frozen.",
               default_text="train it jointly"),
        option("--task-mode", type=click.Choice(["ce", "features"]),
               help="[classifier] ce: VAE loss + weight * CE on reconstructions; features: "
               "reconstruction measured in the classifier's hidden layers.",
               default_text=task.task_mode),
        option("--task-weight", type=click.FloatRange(min=0),
               help="[classifier] Weight of the classifier's cross-entropy on reconstructions.",
               default_text=f"{task.task_weight:g}"),
        option("--recon-threshold", type=click.FloatRange(min=0),
               help="[classifier] A joint classifier also learns from reconstructions whose "
               "per-pixel MSE is below this.",
               default_text=f"{task.recon_threshold:g}"),
        click.option("--option", multiple=True, metavar="NAME=VALUE",
                     help="Set any strategy option by name, including a plugin strategy's; "
                     "VALUE is read as JSON when it parses (0.5, true, \"text\"). Repeatable."),
    ]  # fmt: skip


STRATEGY_OPTION_NAMES = (
    "discriminator", "feature_layer", "feature_variance", "gamma", "balance", "equilibrium",
    "margin", "pixel_warmup",
    "classifier", "classifier_weights", "task_mode", "task_weight", "recon_threshold",
)  # fmt: skip


def strategy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options of individual strategies; only the ones given reach ModelConfig.options."""
    for declaration in reversed(_strategy_option_declarations()):
        command = declaration(command)
    return command


def parse_option_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs; values are JSON literals when they parse, else text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="'--option'")
        try:
            options[name.strip()] = json.loads(text)
        except ValueError:
            options[name.strip()] = text
    return options


def given_strategy_options(values: dict[str, Any]) -> dict[str, Any]:
    """The strategy options the user set, from their own flags or from ``--option``."""
    options = parse_option_pairs(values.get("option") or ())
    options.update(
        {name: values[name] for name in STRATEGY_OPTION_NAMES if values.get(name) is not None}
    )
    return options
