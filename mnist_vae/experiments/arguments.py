"""Argument types the benchmark scripts share (argparse; the CLI uses click's own)."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_int(text: str) -> int:
    """argparse type: a bad count is a usage error (exit 2), not a traceback later on."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def existing_file(text: str) -> Path:
    """argparse type: a missing input file is a usage error before any work starts."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path
