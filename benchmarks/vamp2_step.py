"""Where a ``vamp2`` training step spends its time, and what splitting a gated layer saves.

    python benchmarks/vamp2_step.py --json benchmarks/results/vamp2-step.json

On the paper's sizes (``--arch gated --latent-dim 40 --top-latent-dim 40 --top-hidden
300``, 500 pseudo-inputs, batch 100) and ONE TensorFlow thread, this times compiled
functions of an untrained model (a step costs the same whatever the weights), medians
over ``--repeats`` calls after one untimed call each, the parts called in turn:

* ``gradients``: the gradients of one step's objective (the ELBO) over every variable;
* ``prior_gradients``: those of the VampPrior's log-density alone (the pseudo-inputs
  through the encoder, the mixture): the part two-layer models with a Gaussian prior skip;
* ``prior_forward``: the same, forward only;
* ``forward``: the ELBO's terms, forward only.

Then ``split_over_slices``: the gradients again, with ``GatedDense`` taking its two
halves by two slices instead of one split, the two compiled functions called
alternately (pairs), the median of the per-pair ratios. A ratio above 1 means the
split is faster. Run it with the machine otherwise idle for absolute figures; the
paired ratio holds on a busy machine too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name, positive_int, report_json

BATCH, LATENT, TOP, HIDDEN, PSEUDO_INPUTS = 100, 40, 40, 300, 500


def call_ms(function, *arguments) -> float:
    """One call's milliseconds, its result read back."""
    started = time.perf_counter()
    for value in function(*arguments):
        value.numpy()
    return (time.perf_counter() - started) * 1e3


def sliced_call(self, inputs):
    """``GatedDense.call`` as first written: two slices of the projection."""
    import keras

    projection = self.projection(inputs)
    return projection[..., : self.units] * keras.ops.sigmoid(projection[..., self.units :])


def measure(repeats: int) -> dict:
    os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import keras
    import tensorflow as tf

    from mnist_vae.models import build_model, model_config
    from mnist_vae.zoo.layers import GatedDense
    from mnist_vae.zoo.strategies.vamp import mixture_log_density

    options = {"top_latent_dim": TOP, "top_hidden": HIDDEN, "pseudo_inputs": PSEUDO_INPUTS}
    config = model_config("gated", strategy="vamp2", latent_dim=LATENT, options=options)
    model = build_model(config, seed=0)
    images = tf.cast(tf.random.uniform((BATCH, 28, 28, 1), seed=1) > 0.5, tf.float32)
    model.elbo_terms(images)  # builds every network
    variables = model.optimized_variables()
    z2 = tf.random.normal((BATCH, TOP), seed=2)

    def objective():
        reconstruction, kl = model.elbo_terms(images, training=True)
        return keras.ops.mean(reconstruction) + keras.ops.mean(kl)

    def prior():
        return keras.ops.mean(mixture_log_density(z2, *model.prior_components()))

    def gradients_of(value):
        def gradients():
            with tf.GradientTape() as tape:
                result = value()
            # the prior reaches only the encoder and the pseudo-inputs
            return [g for g in tape.gradient(result, variables) if g is not None]

        return tf.function(gradients)

    parts = {
        "gradients": gradients_of(objective),
        "prior_gradients": gradients_of(prior),
        "prior_forward": tf.function(lambda: [prior()]),
        "forward": tf.function(lambda: list(model.elbo_terms(images))),
    }
    split_gradients = parts["gradients"]
    split_call = GatedDense.call
    GatedDense.call = sliced_call  # traced now, into its own graph
    try:
        sliced_gradients = gradients_of(objective)
        sliced_gradients.get_concrete_function()
    finally:
        GatedDense.call = split_call

    times = {name: [] for name in parts}
    for function in (*parts.values(), sliced_gradients):
        call_ms(function)  # traced and warmed, untimed
    ratios = []
    for _ in range(repeats):
        for name, function in parts.items():
            times[name].append(call_ms(function))
        sliced, split = call_ms(sliced_gradients), call_ms(split_gradients)
        ratios.append(sliced / split)
    return {
        "milliseconds_one_thread": {k: round(statistics.median(v), 2) for k, v in times.items()},
        "split_over_slices": round(statistics.median(ratios), 3),
        "split_over_slices_pairs": [round(r, 3) for r in ratios],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=20, help="timed calls per part")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    result = {
        "setting": {
            "arch": "gated",
            "latent_dim": LATENT,
            "top_latent_dim": TOP,
            "top_hidden": HIDDEN,
            "pseudo_inputs": PSEUDO_INPUTS,
            "batch": BATCH,
            "threads": 1,
        },
        **measure(args.repeats),
        "repeats": args.repeats,
        "machine": machine_name(),
    }
    report_json(result, args.json)


if __name__ == "__main__":
    main()
