"""Proof of origin: what tells mnist-vae's own staging items and results from a user's.

``mnist-vae clean`` deletes staging items and ``--overwrite`` replaces results, so
neither may go by a name alone: a user's ``.photos.20241201.old/`` or a folder that
merely holds a ``config.json`` must never be taken for ours.

* A staging folder gets ``STAGE_MARKER`` first, before anything else is written in
  it: a small JSON naming mnist-vae, the kind of staging and its target.
* A staged file cannot hold a marker, so its name carries one: the random token is
  followed by a check computed from the rest of the name (``file_token``), which a
  name made by anyone else matches by accident once in 4 billion.
* A result folder gets ``RESULT_MANIFEST`` when it is committed: every file in it,
  so that ``--overwrite`` deletes nothing else (``overwrite_problem``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

STAGE_MARKER = ".mnist-vae-staging.json"
RESULT_MANIFEST = ".mnist-vae-result.json"

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
    return (
        record.get("mnist_vae") == "staging"
        and record.get("kind") == kind
        and (kind == TRAINING or record.get("target") == Path(target).name)
    )


def earlier_training_stage(folder: Path) -> bool:
    """Whether ``folder`` is a training stage of a version before markers: its intent
    file (``training.json``) holds a run's config, with its model and training tables,
    and the command. A user's folder does not by accident; a user's interrupted run of
    an earlier version does, and resuming it must not be refused."""
    record = _read(Path(folder) / "training.json")
    config = record.get("config")
    return (
        isinstance(config, dict)
        and isinstance(config.get("model"), dict)
        and isinstance(config.get("train"), dict)
        and "command" in record
    )


def foreign_stage(folder: Path, kind: str, target: Path) -> bool:
    """Whether ``folder`` holds something but not mnist-vae's marker: not ours to resume,
    fill or delete. An empty folder is not foreign: it holds nothing to lose, and a
    stage another process has just made looks like that until it writes its marker.
    Neither is an earlier version's training stage (``earlier_training_stage``): it is
    resumed, and marked then."""
    try:
        empty = not any(Path(folder).iterdir())
    except OSError:
        return False
    if kind == TRAINING and earlier_training_stage(folder):
        return False
    return not empty and not has_stage_marker(folder, kind, target)


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


# --------------------------------------------------------------------------- results


# What kind of result a folder is, by the file that marks it (the first found counts).
KIND_MARKERS = (
    ("config.json", "run"),
    ("saved_model.pb", "export"),
    ("model.tflite", "export"),
    ("results.json", "benchmark"),
    ("sampler.json", "sampler"),
)

# What mnist-vae adds to a result of each kind after it was written (evaluate's
# metrics and figures, sample's images by default; samplers fitted by sample --sampler
# are results of their own): the manifest cannot list them.
ADDED_LATER = {"run": ("metrics.json", "figures/*.png", "samples/*.png", "samples/*.npy")}

# Results written before manifests: the files mnist-vae writes for each kind. A folder
# holding anything else is not replaced.
LEGACY_FILES = {
    "run": (
        "config.json",
        "metrics.json",
        "latent.json",
        "history.csv",
        "*.keras",
        "figures.json",
        "figures/*.png",
        "samples/*.png",
        "samples/*.npy",
        "training.json",
        "checkpoint/*",
    ),
    "export": (
        "saved_model.pb",
        "fingerprint.pb",
        "model.tflite",
        "variables/*",
        "assets/*",
        "config.json",
        "metrics.json",
        "latent.json",
    ),
    "benchmark": (
        "results.json",
        "results.csv",
        "*.png",
        "benchmark.json",
        "steps/*",
        "runs/*",
        "generators/*",
    ),
    "sampler": ("*", "*/*"),
}


def result_kind(folder: Path) -> str | None:
    """``run``, ``export``, ``benchmark`` or ``sampler`` by the file that marks it; None."""
    return next((kind for name, kind in KIND_MARKERS if (Path(folder) / name).is_file()), None)


def write_manifest(folder: Path) -> None:
    """List every file in ``folder`` (a result about to be committed) in its manifest."""
    folder = Path(folder)
    record = {"mnist_vae": "result", "kind": result_kind(folder), "files": _files(folder)}
    partial = folder / f"{RESULT_MANIFEST}.partial"  # replaced whole: never half a list
    with open(partial, "w") as handle:
        json.dump(record, handle, indent=1)
        handle.write("\n")
    os.replace(partial, folder / RESULT_MANIFEST)


def overwrite_problem(folder: Path, kind: str | None = None) -> str | None:
    """Why ``--overwrite`` must not replace ``folder``, in words; None when it may.

    It may when every file in it was written by mnist-vae: listed in its manifest (or
    added later by mnist-vae to that kind of result), or, for a result written before
    manifests, one mnist-vae writes for its kind (``LEGACY_FILES``). Given the ``kind``
    of result about to be written, it may also only when ``folder`` is a result of that
    kind: an export or a benchmark aimed by mistake at a trained run must not replace it.
    """
    folder = Path(folder)
    unlisted = _unlisted(folder)
    if unlisted is None:
        return (
            f"{folder} is not an mnist-vae result (no {RESULT_MANIFEST}, config.json, "
            "results.json or saved_model.pb); --overwrite replaces only earlier results: "
            "choose another --out"
        )
    existing = existing_kind(folder)
    if not unlisted and kind is not None and existing is not None and existing != kind:
        return (
            f"{folder} is an mnist-vae {existing}, not {_article(kind)} {kind}: --overwrite "
            f"replaces only an earlier {kind}; choose another --out"
        )
    if not unlisted:
        return None
    shown = ", ".join(unlisted[:5]) + (
        f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else ""
    )
    return (
        f"{folder} holds files mnist-vae did not write ({shown}); --overwrite would "
        "delete them: move them out, or choose another --out"
    )


def existing_kind(folder: Path) -> str | None:
    """The kind of result ``folder`` is: its manifest's, else by the file that marks it."""
    manifest = _read(Path(folder) / RESULT_MANIFEST)
    if manifest.get("mnist_vae") == "result" and isinstance(manifest.get("kind"), str):
        return manifest["kind"]
    return result_kind(folder)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _unlisted(folder: Path) -> list[str] | None:
    """The files in ``folder`` no mnist-vae writer accounts for; None: not a result."""
    manifest = _read(folder / RESULT_MANIFEST)
    files = _files(folder)
    if manifest.get("mnist_vae") == "result" and isinstance(manifest.get("files"), list):
        listed = set(manifest["files"])
        patterns = ADDED_LATER.get(str(manifest.get("kind")), ())
    else:
        kind = result_kind(folder)
        if kind is None:
            return None
        listed, patterns = set(), LEGACY_FILES[kind]
    samplers = folder / "samplers"
    unlisted = []
    for name in files:
        if name in listed or any(_matches(name, pattern) for pattern in patterns):
            continue
        parts = name.split("/")
        if parts[0] == "samplers" and len(parts) > 2 and _sampler_ok(samplers / parts[1]):
            continue  # fitted later by sample --sampler, itself a result
        unlisted.append(name)
    return unlisted


def _matches(name: str, pattern: str) -> bool:
    """``fnmatch`` segment by segment, so that ``*`` never crosses a ``/``: ``figures/*.png``
    is a figure, not a user's ``figures/paper/plot.png``. A last segment ``*`` alone
    (``checkpoint/*``) stands for everything below its folder."""
    names, patterns = name.split("/"), pattern.split("/")
    if len(patterns) > 1 and patterns[-1] == "*":
        patterns = patterns[:-1]
        deep_enough = len(names) > len(patterns)
        return deep_enough and all(map(fnmatch.fnmatchcase, names, patterns))
    return len(names) == len(patterns) and all(map(fnmatch.fnmatchcase, names, patterns))


def _sampler_ok(folder: Path) -> bool:
    unlisted = _unlisted(folder) if result_kind(folder) == "sampler" else None
    return unlisted == []


def _files(folder: Path) -> list[str]:
    """Every file under ``folder`` (relative, with /), but the manifest and a marker."""
    names = []
    for root, folders, files in os.walk(folder):
        folders.sort()
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            if relative not in (RESULT_MANIFEST, f"{RESULT_MANIFEST}.partial", STAGE_MARKER):
                names.append(relative)
    return sorted(names)


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
