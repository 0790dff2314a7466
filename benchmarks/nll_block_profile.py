"""Where importance-sampled scoring spends its time: one block of decoder rows, part by part.

    python benchmarks/nll_block_profile.py --json benchmarks/results/nll-block-profile.json

``benchmark nll`` at K=5000 scores 10,000 images x 5,000 samples = 50 million decoder
rows, in blocks of ``ROWS_PER_BLOCK`` rows (4 images x 1,250 samples), one block per
core at a time (one thread per op, blocks side by side). This times, on ONE thread, a
block's whole log-density terms (what the scoring runs) and its parts alone: the
decoder (Burda et al.'s MLP, 50-200-200-784, tanh), the Bernoulli likelihood of its
784 logits, the Gaussian noise, the encoder and the tiling of the images. Medians over
``--repeats`` calls of compiled functions, after one untimed call.

From these it reports the seconds a K=5000 pass over the test set takes on ``--cores``
cores (blocks / cores x block time), and the floor that the decoder and the
likelihood alone set: no change to the glue around them can score faster than that.
The model is an untrained MLP ``vae`` (latent 50): scoring costs the same whatever the
weights.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name, positive_int, report_json

TEST_IMAGES, SAMPLES = 10_000, 5_000


def timed(function, *arguments, repeats: int) -> float:
    """Median milliseconds of ``function(*arguments)`` (a compiled tf.function)."""
    function(*arguments).numpy()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*arguments).numpy()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def profile(repeats: int) -> dict:
    """Milliseconds per block for the whole terms and each part, on one thread."""
    os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import keras
    import tensorflow as tf

    from mnist_vae.config import ModelConfig
    from mnist_vae.evaluation.iwae import ROWS_PER_BLOCK, iwae_log_weights
    from mnist_vae.models.factory import build_model
    from mnist_vae.models.losses import bernoulli_negative_log_likelihood

    model = build_model(ModelConfig(encoder="mlp", decoder="mlp", latent_dim=50))
    images_per_block = 4
    samples = ROWS_PER_BLOCK // images_per_block
    generator = keras.random.SeedGenerator(0)
    images = tf.cast(tf.random.uniform((images_per_block, 28, 28, 1)) > 0.5, tf.float32)
    tiled = tf.tile(images, (samples, 1, 1, 1))
    z = tf.random.normal((ROWS_PER_BLOCK, 50))
    logits = tf.random.normal((ROWS_PER_BLOCK, 28, 28, 1))

    def summed(function):
        return tf.function(lambda *a: tf.reduce_sum(function(*a)))

    parts = {
        "terms": summed(lambda x: iwae_log_weights(model, x, None, samples, generator)),
        "decoder": summed(lambda codes: model.decode_logits(codes, None)),
        "likelihood": summed(bernoulli_negative_log_likelihood),
        "noise": summed(
            lambda: keras.random.normal((samples, images_per_block, 50), seed=generator)
        ),
        "encoder": summed(lambda x: model.encode_distribution(x, None)[0]),
        "tile": summed(lambda x: tf.tile(x, (samples, 1, 1, 1))),
    }
    arguments = {
        "terms": (images,),
        "decoder": (z,),
        "likelihood": (tiled, logits),
        "noise": (),
        "encoder": (images,),
        "tile": (images,),
    }
    return {name: timed(part, *arguments[name], repeats=repeats) for name, part in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=25, help="timed calls per part")
    parser.add_argument("--cores", type=positive_int, default=2, help="blocks scored side by side")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    from mnist_vae.evaluation.iwae import ROWS_PER_BLOCK

    milliseconds = profile(args.repeats)
    blocks = TEST_IMAGES * SAMPLES / ROWS_PER_BLOCK
    seconds = {name: value * blocks / args.cores / 1e3 for name, value in milliseconds.items()}
    floor = seconds["decoder"] + seconds["likelihood"]
    decoder_flop = 2 * (50 * 200 + 200 * 200 + 200 * 784) * ROWS_PER_BLOCK
    result = {
        "rows_per_block": ROWS_PER_BLOCK,
        "milliseconds_per_block_one_thread": {k: round(v, 2) for k, v in milliseconds.items()},
        "k5000_test_set_seconds_on_cores": {k: round(v, 1) for k, v in seconds.items()},
        "floor_seconds_decoder_plus_likelihood": round(floor, 1),
        "decoder_gflop_per_second_one_thread": round(
            decoder_flop / milliseconds["decoder"] / 1e6, 1
        ),
        "cores": args.cores,
        "machine": machine_name(),
    }
    report_json(result, args.json)


if __name__ == "__main__":
    main()
