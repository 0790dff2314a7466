"""Checkpoint overhead: one checkpoint's save time against an epoch of training.

    python benchmarks/checkpoint_overhead.py          # net1, latent 2, all 60,000 images, batch 100
    python benchmarks/checkpoint_overhead.py --arch resconv --latent-dim 16 --every 100

In one process, after a warm-up epoch, the script times alternating epochs of
``mnist-vae train``'s loop (``Fitter``, validation included) in three settings: no
checkpoint at all, a checkpoint at the epoch's end (the default), and also one every
``--every`` steps (``--checkpoint-every-steps``). Between them it times single
mid-epoch checkpoints (``EpochCheckpoint.save``: weights and optimizer state, random
states, metric totals and the index, into a temporary folder). It prints the medians,
one checkpoint as a share of an epoch, and the measured cost of each setting.
Needs MNIST_VAE_DATA or another data source.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mnist_vae.backend import prepare_backend

prepare_backend()  # quiet TensorFlow start-up, before the imports below
import keras  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", default="net1")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--every", type=int, default=100, help="steps between checkpoints")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs of each setting")
    parser.add_argument("--saves", type=int, default=4, help="timed checkpoints per repeat")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()

    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.data import load_mnist
    from mnist_vae.models import TrainingContext, build_model, model_config
    from mnist_vae.training import Fitter
    from mnist_vae.training.checkpoints import EpochCheckpoint

    data = load_mnist(args.data)
    config = RunConfig(
        model=model_config(args.arch, latent_dim=args.latent_dim),
        train=TrainConfig(batch_size=args.batch_size, train_size=None, checkpoint_steps=args.every),
    )
    keras.utils.set_random_seed(0)
    context = TrainingContext.for_training(config.train, available=len(data.x_train))
    model = build_model(config.model, seed=0, context=context)
    fitter = Fitter(model, config, data.x_train, data.y_train, data.x_test, data.y_test)
    every = fitter.checkpoint_steps
    mid_epoch = (fitter.steps_per_epoch - 1) // every
    print(
        f"{args.arch}, {len(data.x_train)} images, batch {args.batch_size}: "
        f"{fitter.steps_per_epoch} steps per epoch, {model.steps_per_execution} per call; "
        f"checkpoints every {every} steps: {mid_epoch} mid-epoch + 1 at the end"
    )

    with tempfile.TemporaryDirectory() as scratch:
        folders = {name: Path(scratch) / name for name in ("end", "every", "single")}
        settings = {
            "no checkpoint": lambda: [],
            "epoch end only": lambda: [EpochCheckpoint(folders["end"])],
            f"every {every} steps": lambda: [EpochCheckpoint(folders["every"], steps=every)],
        }
        fitter.fit(1)  # warm-up: tracing
        epochs: dict[str, list[float]] = {name: [] for name in settings}
        saves: list[float] = []
        single = EpochCheckpoint(folders["single"])
        single.set_model(model)
        for _ in range(args.repeats):
            for name, callbacks in settings.items():
                started = time.perf_counter()
                fitter.fit(1, callbacks())
                epochs[name].append(time.perf_counter() - started)
            for _ in range(args.saves):
                started = time.perf_counter()
                single.save(0, every * (len(saves) + 1))
                saves.append(time.perf_counter() - started)

    epoch = statistics.median(epochs["no checkpoint"])
    save = statistics.median(saves)
    print(
        f"one checkpoint: median {save * 1000:.0f} ms of {len(saves)} "
        f"(fastest {min(saves) * 1000:.0f} ms); an epoch without: median {epoch:.2f} s "
        f"of {args.repeats}"
    )
    print(
        f"one checkpoint = {save / epoch:.2%} of an epoch; every {every} steps predicts "
        f"+{(mid_epoch + 1) * save / epoch:.1%} per epoch"
    )
    fastest = min(epochs["no checkpoint"])
    for name, times in epochs.items():
        seconds = statistics.median(times)
        print(
            f"  {name:>18}: median {seconds:.2f} s per epoch ({seconds / epoch - 1:+.1%}), "
            f"fastest {min(times):.2f} s ({min(times) / fastest - 1:+.1%}); "
            f"runs {', '.join(f'{t:.2f}' for t in times)}"
        )


if __name__ == "__main__":
    main()
