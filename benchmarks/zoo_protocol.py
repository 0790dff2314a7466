"""Train architectures under the report's protocol and tabulate wall time and test ELBO.

    python benchmarks/zoo_protocol.py --arch net1 net2 net3 net4 --latent-dim 2
    python benchmarks/zoo_protocol.py --arch net1 net2 net3 net4 resconv --latent-dim 16

Each run is a normal run directory under --out (default runs/zoo-protocol), so its
figures can be inspected; the table is printed as Markdown and saved as JSON.
Runs execute one after another: wall times are only comparable on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mnist_vae.config import RunConfig, TrainConfig
from mnist_vae.data import load_mnist
from mnist_vae.models import model_config
from mnist_vae.training import train


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", nargs="+", default=["net1", "net2", "net3", "net4"])
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--train-size", type=int, default=TrainConfig().train_size)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="as 'mnist-vae train --data'")
    parser.add_argument("--out", type=Path, default=Path("runs/zoo-protocol"))
    args = parser.parse_args()

    data = load_mnist(args.data, report=print)
    print(data.describe())
    rows = []
    for arch in args.arch:
        config = RunConfig(
            model=model_config(arch, latent_dim=args.latent_dim),
            train=TrainConfig(epochs=args.epochs, train_size=args.train_size, seed=args.seed),
        )
        out = args.out / f"{arch}-z{args.latent_dim}-s{args.seed}"
        start = time.perf_counter()
        run = train(config, out, data=data, overwrite=True, progress=False, report=lambda m: None)
        wall = time.perf_counter() - start
        test = run.metrics["test"]
        rows.append(
            {
                "arch": arch,
                "latent_dim": args.latent_dim,
                "wall_seconds": round(wall, 1),
                "train_seconds": run.metrics["train_seconds"],
                "run": str(out),
                **{key: round(value, 2) for key, value in test.items()},
            }
        )
        print(f"{arch}: {wall:.0f} s, test -ELBO {test['negative_elbo']:.2f}", flush=True)

    print("\n| arch | latent | wall time (s) | test -ELBO (nats) | reconstruction | KL |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        numbers = f"{r['negative_elbo']:.2f} | {r['reconstruction']:.2f} | {r['kl']:.2f}"
        print(f"| {r['arch']} | {r['latent_dim']} | {r['wall_seconds']:.0f} | {numbers} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"table-z{args.latent_dim}.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
