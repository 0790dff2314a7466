"""Ship a finished run as ``pretrained:NAME``: its files and card into mnist_vae/pretrained/.

    python benchmarks/ship_pretrained.py runs/net1-report net1-report --nll-from RESULTS.json
    python benchmarks/ship_pretrained.py RUN NAME --paper '{"source": "...", "nll": 86.76}'

The run must have been trained on canonical MNIST (hashes verified) through the
default source or ``MNIST_VAE_DATA``, never ``--data FILE``: a shipped card names the
data by its hashes, not by a path on the machine that trained it. The recorded command
is kept with ``mnist-vae`` as its program and ``--out runs/NAME``. ``--nll-from`` takes
the run's row of a ``benchmark nll`` results.json (K=5000 on all 10,000 test images);
the card's check score (``mnist_vae.evaluation.cards``) is computed here.

The shipped model files carry no optimizer state, and the model's weights (and its
extra networks') are rounded to float16, and stored so, when that moves the check score
by less than 0.01 nats (measured here, on the check subset with the same draws, and
written on the card); otherwise they ship at float32. docs/zoo.md's table of shipped
models is rewritten from the cards. Shipping again over a model (``--overwrite``) keeps
its card's paper row, note and NLL unless new ones are given.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "mnist_vae" / "pretrained"
RUN_FILES = ("config.json", "metrics.json", "latent.json", "history.csv")


def shipped_command(command: str, name: str) -> str:
    """The recorded command as a user would type it: ``mnist-vae train ... --out runs/NAME``."""
    tokens = shlex.split(command)
    start = next(i for i, token in enumerate(tokens) if token == "train")
    tokens = ["mnist-vae", *tokens[start:]]
    if "--out" in tokens:
        tokens[tokens.index("--out") + 1] = f"runs/{name}"
    else:
        tokens += ["--out", f"runs/{name}"]
    for token in tokens:
        if token.startswith("/") or token.startswith("--data"):
            raise SystemExit(
                f"the recorded command names a path ({token}): train with the "
                "default MNIST or MNIST_VAE_DATA, then ship"
            )
    return shlex.join(tokens)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument(
        "--nll-from",
        type=Path,
        default=None,
        help="a benchmark nll results.json with a row for this run",
    )
    parser.add_argument("--paper", default=None, help="JSON: the paper row compared with")
    parser.add_argument("--note", default="", help="what differs from the paper, in words")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    from mnist_vae.data.loading import CANONICAL_NAME
    from mnist_vae.evaluation.cards import check_score, make_card
    from mnist_vae.runs import load_run
    from mnist_vae.runs.compact import HALF_TOLERANCE, compact_model_file
    from mnist_vae.training.trainer import with_epochs

    run = load_run(args.run)
    record = dict(run.record)
    data = dict(record.get("data", {}))
    if run.config.train.data is not None or not data.get("canonical_mnist"):
        sys.exit(f"{args.run} was not trained on canonical MNIST without --data: not shipped")
    data["source"] = CANONICAL_NAME
    record["data"] = data
    # A run cut short or carried on (train --resume --epochs N) before its command said so.
    command = with_epochs(record.get("command", ""), run.config.train.epochs)
    record["command"] = shipped_command(command, args.name)
    # The machine's kernel string says nothing about the model: not shipped.
    record["versions"] = {k: v for k, v in record.get("versions", {}).items() if k != "platform"}
    nll = iw_samples = None
    if args.nll_from is not None:
        rows = json.loads(args.nll_from.read_text())["rows"]
        row = next(
            (
                r
                for r in rows
                if r.get("train_seconds") == run.metrics.get("train_seconds")
                or str(args.run.name) in str(r.get("run"))
            ),
            None,
        )
        if row is None:
            sys.exit(f"no row for {args.run} in {args.nll_from}")
        nll, iw_samples = row["nll"], row["iw_samples"]
    target = SHIPPED / args.name
    if target.exists() and not args.overwrite:
        sys.exit(f"{target} exists: --overwrite to replace it")
    earlier = json.loads((target / "card.json").read_text()) if target.exists() else {}
    if args.nll_from is None and earlier.get("nll") is not None:
        nll, iw_samples = earlier["nll"], earlier["iw_samples"]
    paper = json.loads(args.paper) if args.paper else earlier.get("paper")
    note = args.note or earlier.get("note", "")
    staging = SHIPPED / f".{args.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in RUN_FILES:
        if (args.run / name).is_file():
            shutil.copy2(args.run / name, staging / name)
    (staging / "config.json").write_text(json.dumps(record, indent=2) + "\n")
    for keras_file in args.run.glob("*.keras"):
        compact_model_file(keras_file, staging / keras_file.name, half=False)
    full = check_score(load_run(staging))
    compact_model_file(args.run / "model.keras", staging / "model.keras", half=True)
    half = check_score(load_run(staging))
    if abs(half - full) >= HALF_TOLERANCE:
        compact_model_file(args.run / "model.keras", staging / "model.keras", half=False)
    else:  # the extra networks (copies of the model's parts) rounded alike
        for keras_file in args.run.glob("*.keras"):
            if keras_file.name != "model.keras":
                compact_model_file(keras_file, staging / keras_file.name, half=True)
    storage = {
        "optimizer_state": False,
        "weights": "float16-rounded" if abs(half - full) < HALF_TOLERANCE else "float32",
        "check_float32": full,
        "check_float16_rounded": half,
    }
    shipped = load_run(staging)
    card = make_card(shipped, args.name, nll=nll, iw_samples=iw_samples, paper=paper, note=note)
    card["storage"] = storage
    (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    refresh_docs_table()
    size = sum(p.stat().st_size for p in target.iterdir())
    print(
        f"shipped {args.name}: {size / 1e6:.2f} MB, check score {card['check']['nll']:.4f} "
        f"nats ({card['check']['images']} images, K={card['check']['iw_samples']}); weights "
        f"{storage['weights']} (rounding moved it {half - full:+.5f} nats)"
    )


def refresh_docs_table() -> None:
    """docs/zoo.md's table of shipped models, from every card now in the package."""
    from mnist_vae.runs.pretrained import markdown_table

    cards = [json.loads(path.read_text()) for path in sorted(SHIPPED.glob("*/card.json"))]
    docs = REPO / "docs" / "zoo.md"
    text = docs.read_text()
    start, end = "<!-- pretrained-table:start -->\n", "<!-- pretrained-table:end -->"
    head, rest = text.split(start)
    docs.write_text(head + start + markdown_table(cards) + "\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    main()
