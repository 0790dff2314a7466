"""Draw the likelihood table's figure from ``benchmark nll`` results, with today's anchors.

    python benchmarks/nll_figure.py benchmarks/results/nll-mlp50.json \\
        benchmarks/results/nll-vae-b100-burda-s0.json --out docs/figures/nll-mlp50.png

Each row of a results file keeps the paper figure the package quoted when it scored the
row, and the anchors have changed since (made like for like: no static-MNIST figure
beside a dynamic-MNIST model, no two-layer row beside a ladder VAE). This looks every
row's figure up again with ``mnist_vae.experiments.nll.anchor_for``, so one picture can
pool models scored in different sessions without scoring them again, and shows no
figure the docs no longer stand behind. Rows must share the test data and the K.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nll_spread import read_results, results_parser


def rows_with_todays_anchors(paths: list[Path]) -> list[dict]:
    """Every file's rows in order, each with the paper figure quoted for it today."""
    from mnist_vae.experiments.nll import anchor_for

    rows = [
        {
            **row,
            "anchor": anchor_for(
                row["strategy"],
                row["architecture"],
                row["latent_dim"],
                row["binarize"],
                row.get("options"),
            ),
        }
        for results in read_results(paths).values()
        for row in results["rows"]
    ]
    measured = sorted({row["iw_samples"] for row in rows})
    if len(measured) > 1:
        raise SystemExit(f"the rows were measured with different K ({measured}): draw one K")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = results_parser(__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    from mnist_vae.experiments.nll import plot_nll

    rows = rows_with_todays_anchors(args.results)
    plot_nll(rows, args.out)
    quoted = sum(row["anchor"] is not None for row in rows)
    print(f"wrote {args.out}: {len(rows)} models, {quoted} with a paper figure")


if __name__ == "__main__":
    sys.exit(main())
