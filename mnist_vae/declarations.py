"""How a setting is declared: ``option(...)``, once, as a field of its record.

The records (``mnist_vae.config``'s run settings, the strategies' options, the
benchmarks' configs and the commands' requests) declare each setting here; the CLI's
flags, their help and the config-file keys are generated from the declarations
(``mnist_vae.settings``). It imports nothing of the package, so any module may declare
its request's settings without climbing above the ground floor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

REQUIRED: Any = dataclasses.MISSING  # option(REQUIRED, ...): a field without a default
# A seed's range, for every record with one (the seed of numpy and of Keras's generators).
SEED_MAXIMUM = 2**32 - 1


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    exclusive_minimum: bool = False,
    maximum: float | None = None,
    exclusive_maximum: bool = False,
    metavar: str | None = None,
    needs: str | tuple[str, Any] | None = None,
    section: str | None = None,
    flag: str | None = None,
    registry: str | None = None,
    none_as: Any = None,
    flag_value: str | None = None,
    shown_default: str | None = None,
    path: bool | str = False,
    repeat: bool = False,
    legacy: dict[Any, Any] | None = None,
    switch: bool = False,
    argument: bool = False,
    kw_only: bool = False,
) -> Any:
    """A setting: its default, help text, bounds and what it needs, in one place.

    The field's type annotation is its type; the CLI builds its ``--flag`` from all of this
    (``mnist_vae.settings``), and the record checks values against it. ``needs`` (strategy
    options) names the setting without which the option does nothing, so giving it alone is
    refused (``StrategyOptions.check_given``): a name (another option of the strategy, or a
    ``ModelConfig``/``TrainConfig`` field) that must be on (true, above 0, set), or a (name,
    value) pair that must hold. For ``ModelConfig``/``TrainConfig`` fields: ``section`` is the
    title ``train --help`` lists the flag under; ``flag`` the flag's name where it is not the
    field's (the config-file key is always the field's); ``registry`` the registry whose names
    it takes; ``none_as`` the value that stands for None (``all`` images, ``0`` steps);
    ``flag_value`` what the flag means given plain (its absence is the default);
    ``shown_default`` the default as ``--help`` says it; ``path`` an existing file or folder
    (``path="run"``: a run directory or pretrained:NAME; ``"folder"``, ``"file"``: one to
    write, ``"existing folder"``, ``"existing file"``); ``legacy`` old recorded values and
    what they mean now. Other settings records (the benchmarks' configs, the commands'
    requests) use the same keywords; there a ``tuple[...]`` field is a comma-separated flag,
    or with ``repeat`` a repeatable one, and a ``dict`` field a repeatable NAME=VALUE flag
    (a dict default is copied per record); ``switch`` makes a bool a plain ``--flag`` (no
    ``--no-flag``), ``argument`` the command's positional argument (a ``tuple[...]`` one
    takes any number).
    """
    metadata = {name: value for name, value in locals().items() if name != "default"}
    del metadata["kw_only"]
    return _option_field(default, metadata, kw_only)


def seed_setting(help: str, **extra: Any) -> Any:
    """A seed (``--seed``), declared alike on every record that has one; its help says what
    it seeds there."""
    return option(0, help, minimum=0, maximum=SEED_MAXIMUM, **extra)


def overwrite_setting() -> Any:
    """``--overwrite``, declared alike on every request that writes a result."""
    return option(
        False,
        "Replace an earlier result (only once the new one is complete), and only if every "
        "file in it is one mnist-vae wrote: a folder holding anything else is never replaced.",
        switch=True,
    )


def data_setting(**extra: Any) -> Any:
    """``--data``, declared alike on every record that reads MNIST (or data like it)."""
    return option(
        None,
        "A Keras-layout .npz (x_train, y_train, x_test, y_test) or a directory of "
        "MNIST IDX files (.gz or raw), with its class names if it names them (classes.txt, "
        "docs/data.md). Default: $MNIST_VAE_DATA, the local cache, TFDS, PyPI.",
        path=True,
        **extra,
    )


def _option_field(default: Any, metadata: dict[str, Any], kw_only: bool) -> Any:
    """The dataclass field for ``option``: a dict default is mutable, so each record gets
    its own copy of it rather than one dict shared by every record."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata, kw_only=kw_only)
    return field(default=default, metadata=metadata, kw_only=kw_only)
