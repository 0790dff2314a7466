"""The spread over seeds of runs scored in separate ``benchmark nll`` results.

    python benchmarks/nll_spread.py runs/nll-vae-b100-burda-s*/results.json \\
        --json benchmarks/results/nll-spread-vae-b100-burda.json

``benchmark nll --run A --run B --run C`` gives the spread of the runs it scores together.
Long runs are scored one by one as each finishes (a K=5000 pass of a two-layer model
takes most of an hour on one core), so this pools the rows of several results files
instead of scoring them again, with the package's own ``seed_spread``: rows pool when
they share a recipe (the config but for the seed) and were measured alike (the same K
on the same number of test images). Rows written before rows carried their seed and
recipe get both from their run's config, while the run is still there. Every file must
have scored the same data: the same hashes (``data_identity``), or for files written
before results carried them, the same ``data``, any canonical MNIST being one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_vae.experiments.arguments import existing_file


def data_kind(results: dict) -> str:
    """What identifies a results file's data: canonical MNIST by name (verified when it
    was read; the first results files, from before the hashes were named, say
    "canonical MNIST (...)"), other data by its hashes, or by its source in files without."""
    label = results["data"]
    named = ("canonical" in label and "hashes verified" in label) or label.startswith(
        "canonical MNIST"
    )
    if named and "not canonical" not in label:
        return "canonical MNIST"
    identity = results.get("data_identity")
    return f"{identity['train_sha256']}/{identity['test_sha256']}" if identity else label


def completed_row(row: dict) -> dict:
    """``row`` with its ``seed`` and ``recipe``, read from its run where the row lacks them."""
    if row.get("recipe") is not None and row.get("seed") is not None:
        return row
    from mnist_vae.errors import MnistVaeError
    from mnist_vae.experiments.nll import recipe_of
    from mnist_vae.runs import load_run

    try:
        run = load_run(row["run"])
    except MnistVaeError as error:
        raise SystemExit(
            f"a row of {row['run']} has no seed and recipe, and its run cannot tell them: {error}"
        ) from None
    return {**row, "seed": run.config.train.seed, "recipe": recipe_of(run.config)}


def pooled(paths: list[Path]) -> dict:
    """The rows of every results file, completed, and their spread over seeds."""
    from mnist_vae.experiments.nll import seed_spread

    files = read_results(paths)
    rows = [
        {**completed_row(row), "results": str(path)}
        for path, results in files.items()
        for row in results["rows"]
    ]
    return {"data": next(iter(files.values()))["data"], "rows": rows, "spread": seed_spread(rows)}


def read_results(paths: list[Path]) -> dict[Path, dict]:
    """Each ``benchmark nll`` results.json by its path; a one-line error for a file that is
    not one, or for files that scored different test data."""
    files, kinds = {}, {}
    for path in paths:
        try:
            results = json.loads(path.read_text())
            results["data"], results["rows"]  # a results file has both
        except (ValueError, TypeError, KeyError) as error:
            raise SystemExit(f"{path}: not a benchmark nll results.json ({error})") from None
        kinds.setdefault(data_kind(results), str(path))
        files[path] = results
    if len(kinds) > 1:
        raise SystemExit(f"the files scored different test data: {', '.join(kinds.values())}")
    return files


def results_parser(doc: str) -> argparse.ArgumentParser:
    """A script's parser, taking the ``benchmark nll`` results files it reads (each must exist)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "results", nargs="+", type=existing_file, help="benchmark nll results.json files"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = results_parser(__doc__)
    parser.add_argument("--json", type=Path, help="also write the pooled rows and spread here")
    args = parser.parse_args(argv)
    from mnist_vae.experiments.tables import nll_spread_lines
    from mnist_vae.io import write_json_atomic

    result = pooled(args.results)
    lines = nll_spread_lines(result)
    print("\n".join(lines) if lines else "no recipe was scored with two seeds or more")
    if args.json:
        write_json_atomic(args.json, result)


if __name__ == "__main__":
    sys.exit(main())
