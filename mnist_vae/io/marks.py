"""Proof of origin: what tells mnist-vae's own staging items and results from a user's.

``mnist-vae clean`` deletes staging items, so it may not go by a name alone: a user's
``.photos.20241201.old/`` must never be taken for ours.

* A staging folder gets ``STAGE_MARKER`` first, before anything else is written in
  it: a small JSON naming mnist-vae, the kind of staging and its target.
* A staged file cannot hold a marker, so its name carries one: the random token is
  followed by a check computed from the rest of the name (``file_token``), which a
  name made by anyone else matches by accident once in 4 billion.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

STAGE_MARKER = ".mnist-vae-staging.json"

# Kinds of staging folder, as their marker names them.
PARTIAL = "partial"
OLD = "old"
TRAINING = "training"


def write_stage_marker(folder: Path, kind: str, target: Path) -> None:
    """Mark ``folder`` as mnist-vae's staging of ``kind`` for ``target`` (written first)."""
    record = {"mnist_vae": "staging", "kind": kind, "target": Path(target).name}
    with open(Path(folder) / STAGE_MARKER, "w") as handle:
        json.dump(record, handle)
        handle.write("\n")


def has_stage_marker(folder: Path, kind: str, target: Path) -> bool:
    """Whether ``folder`` holds the marker mnist-vae writes into its ``kind`` of staging
    for ``target``: proof that it may be resumed or deleted as mnist-vae's.

    A training stage's target is not compared: its name (``.NAME.training``) says it,
    and a stage moved to another run's name is that run, interrupted.
    """
    record = _read(Path(folder) / STAGE_MARKER)
    return (record.get("mnist_vae") == "staging" and record.get("kind") == kind
            and (kind == TRAINING or record.get("target") == Path(target).name))  # fmt: skip


def remove_stage_marker(folder: Path) -> None:
    """Take the marker out before ``folder`` becomes a result (it is no staging then)."""
    (Path(folder) / STAGE_MARKER).unlink(missing_ok=True)


# A staged file's token: 8 random hex digits, then 8 that check them and the target.
TOKEN_LENGTH = 16


def file_token(target_name: str, random: str | None = None) -> str:
    """The token of a staged file for ``target_name``: random part + its check."""
    random = secrets.token_hex(4) if random is None else random
    check = hashlib.sha256(f"mnist-vae staged file\0{target_name}\0{random}".encode())
    return random + check.hexdigest()[:8]


def is_file_token(target_name: str, token: str) -> bool:
    """Whether ``token`` is one ``file_token`` made for ``target_name``."""
    return len(token) == TOKEN_LENGTH and file_token(target_name, token[:8]) == token


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
