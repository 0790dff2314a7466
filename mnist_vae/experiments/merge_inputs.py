"""``mnist-vae benchmark merge``'s inputs: the results.json files it is given, checked and
read before anything is written, so a merge never destroys what it reads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mnist_vae.declarations import REQUIRED, option, overwrite_setting
from mnist_vae.errors import UsageError, first_line


@dataclass(frozen=True)
class MergeRequest:
    """What ``mnist-vae benchmark merge`` is asked: the results to merge (results.json
    files or the folders holding them) and the folder of the merged ones. The command's
    arguments and flags are these fields, declared here once."""

    results: tuple[str, ...] = option(REQUIRED, "The results to merge.", path=True, argument=True)
    out: str = option(
        REQUIRED, "Folder for the merged results.json, results.csv and error.png.", path="folder"
    )
    overwrite: bool = overwrite_setting()


def read_merge_inputs(
    results: Sequence[str], out: str, *, overwrite: bool
) -> tuple[list[dict], list[Path]]:
    """Each RESULTS argument's results.json, read, and the files they are.

    Checked in this order, before any work: no input twice and none where the merge
    writes (``out``), then ``out`` itself (``check_output_dir``), then each file's JSON.
    """
    from mnist_vae.io import check_output_dir

    paths = [_results_file(given) for given in results]
    _check_merge_paths(results, paths, out)
    check_output_dir(out, overwrite=overwrite, kind="benchmark")
    parts = []
    for given, path in zip(results, paths, strict=True):
        try:
            parts.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise UsageError(
                f"cannot read a results.json from {given}: {first_line(error)}"
            ) from None
    return parts, paths


def _results_file(given: str) -> Path:
    """The results.json a RESULTS argument names: the file, or the one in the folder."""
    path = Path(given)
    return path / "results.json" if path.is_dir() else path


def _check_merge_paths(results: Sequence[str], paths: list[Path], out: str) -> None:
    """Before any work: no input twice, and none where the merge writes (--out's folder,
    which --overwrite replaces whole), so a merge never destroys what it reads."""
    target = Path(out).expanduser().resolve()
    seen: dict[Path, str] = {}
    for given, path in zip(results, paths, strict=True):
        resolved = path.resolve()
        if resolved == target or target in resolved.parents:
            raise UsageError(
                f"{given} is in --out {out}, where merge writes results.json, "
                "results.csv and error.png; choose another --out"
            )
        if resolved in seen:
            raise UsageError(
                f"{given} is given twice (also as {seen[resolved]}); give each result once"
            )
        seen[resolved] = given
