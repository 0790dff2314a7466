"""Train and score more seeds of a shipped model's recipe, picking up where a run stopped.

    python benchmarks/seed_runs.py mlp-vae-z50 --seeds 1,2
    python benchmarks/seed_runs.py gated-vamp2-z40-40 --seeds 2 --dry-run

Each seed trains with its card's own command (``mnist-vae pretrained --json``), only
``--seed`` and ``--out`` changed, so the seeds differ from the shipped model in nothing
else. The long recipes take several sessions: running the same command again resumes an
interrupted training (``train`` does so by itself) and skips what is finished. A
finished training is scored at K = 5000 by ``benchmark nll`` and its results are kept as
``benchmarks/results/nll-STEM-sSEED.json``, and ``nll_spread.py`` pools every seed kept
so far into ``nll-spread-STEM.json`` (mean ± standard deviation).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from mnist_vae.io import RESULT_MANIFEST  # what a committed run or result holds

RESULTS = Path(__file__).parent / "results"
# The names seed 0's results files were kept under; other cards use their own name.
RESULT_STEMS = {
    "mlp-vae-z50": "vae-b100-burda",
    "mlp-iwae-k5-z50": "iwae-k5-b100-burda",
    "gated-vamp2-z40-40": "vamp2-gated-z40",
}
CLI = [sys.executable, "-m", "mnist_vae.cli.main"]


def seed_command(card_command: str, seed: int, out: Path) -> list[str]:
    """The card's training command with ``seed`` and ``out`` in place of its own."""
    words = shlex.split(card_command)
    if words[:2] != ["mnist-vae", "train"]:
        raise SystemExit(f"the card's command is not a training: {card_command}")
    for flag, value in (("--seed", str(seed)), ("--out", str(out))):
        if flag not in words:
            raise SystemExit(f"the card's command has no {flag}: {card_command}")
        words[words.index(flag) + 1] = value
    return CLI + words[1:]


def score_command(run: Path, out: Path) -> list[str]:
    """``benchmark nll`` at the papers' K = 5000 on the whole test set, for one run."""
    scoring = ["--strategies", "", "--run", str(run), "--iw-samples", "5000"]
    return [*CLI, "benchmark", "nll", *scoring, "--out", str(out), "--quiet"]


def finished(folder: Path) -> bool:
    """Whether mnist-vae committed ``folder`` (a training or a benchmark stages until then)."""
    return (folder / RESULT_MANIFEST).is_file()


def plan(card: dict, seeds: list[int], runs: Path) -> list[tuple[str, list[str], Path | None]]:
    """What is left to do for each seed, in order: (what, command, results file to keep)."""
    stem = RESULT_STEMS.get(card["name"], card["name"])
    steps = []
    for seed in seeds:
        run, scores = runs / f"{stem}-s{seed}", runs / f"nll-{stem}-s{seed}"
        kept = RESULTS / f"nll-{stem}-s{seed}.json"
        if kept.is_file():
            continue
        if not finished(run):
            steps.append((f"train seed {seed}", seed_command(card["command"], seed, run), None))
        if not finished(scores):
            steps.append((f"score seed {seed}", score_command(run, scores), None))
        steps.append((f"keep seed {seed}", ["cp", str(scores / "results.json"), str(kept)], kept))
    return steps


def pool_command(stem: str) -> list[str] | None:
    """``nll_spread.py`` over every seed kept so far, into ``nll-spread-STEM.json``; None
    while fewer than two are kept."""
    kept = sorted(RESULTS.glob(f"nll-{stem}-s[0-9]*.json"))
    if len(kept) < 2:
        return None
    spread = RESULTS / f"nll-spread-{stem}.json"
    script = Path(__file__).parent / "nll_spread.py"
    return [sys.executable, str(script), *map(str, kept), "--json", str(spread)]


def seed_list(text: str) -> list[int]:
    """argparse type: comma-separated seeds, each a whole number of 0 or more."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        seeds = [-1]
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of seeds")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a shipped model (mnist-vae pretrained)")
    parser.add_argument("--seeds", type=seed_list, default=[1, 2], help="default: 1,2")
    parser.add_argument("--runs", type=Path, default=Path("runs/seeds"), help="run folders")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    args = parser.parse_args(argv)
    from mnist_vae.errors import MnistVaeError  # after parsing, so --help stays instant
    from mnist_vae.runs.pretrained import lookup

    try:
        card = lookup(args.name).card
    except MnistVaeError as error:
        parser.error(str(error))
    for what, command, kept in plan(card, args.seeds, args.runs):
        print(f"{what}: {shlex.join(command)}", flush=True)
        if args.dry_run:
            continue
        if kept is not None:
            shutil.copyfile(command[1], kept)
        elif subprocess.run(command).returncode != 0:
            print(f"{what} failed; run the same command again to resume", file=sys.stderr)
            return 1
    pooling = pool_command(RESULT_STEMS.get(card["name"], card["name"]))
    if pooling is not None:
        print(f"pool the seeds: {shlex.join(pooling)}", flush=True)
        if not args.dry_run:
            return subprocess.run(pooling).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
