"""What the benchmark scripts share: argument types (argparse; the CLI uses click's own),
the machine's name and the JSON report they print and keep."""

from __future__ import annotations

import argparse
import json
import platform
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


def machine_name() -> str:
    """The processor as the results files name it (its architecture where it has no name)."""
    return platform.processor() or platform.machine()


def report_json(result: dict, path: Path | None) -> None:
    """Print ``result`` and, given a ``path``, keep it there whole or not at all."""
    from mnist_vae.io import write_json_atomic

    print(json.dumps(result, indent=1))
    if path is not None:
        write_json_atomic(path, result)
