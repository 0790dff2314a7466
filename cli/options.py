"""Options shared by several commands, defined once."""

from __future__ import annotations

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
