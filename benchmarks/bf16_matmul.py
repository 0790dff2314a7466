"""Could bfloat16 units score faster at float32's accuracy? The decoder's last layer, timed.

    python benchmarks/bf16_matmul.py --json benchmarks/results/bf16-matmul.json

Importance-sampled scoring spends most of its time in one matrix multiply: 5,000
decoder rows of 200 hidden units by the 200x784 output weights, per block. A plain
bfloat16 multiply is several times cheaper on CPUs with bfloat16 units, but rounding
the inputs to 8 significant bits moves each logit by ~3e-3 of its size: tenths of a
nat per image, not a number to put beside a paper's. XLA's ``dot_general`` takes
bfloat16 inputs with a float32 result, which allows the split products that restore
accuracy (a = a0 + a1 [+ a2], each part bfloat16): 3 products of the parts give ~5e-6
relative error, 6 give ~1.5e-6, against float32's ~6e-7. This times each way on one
thread, alternating, medians over ``--repeats`` calls, and reports the relative
error of each (largest |error| / largest |exact|, exact in float64).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name, positive_int, report_json

ROWS, HIDDEN, PIXELS = 5_000, 200, 784
# Which parts of a and b each split product pairs, by how many parts each is cut into.
SPLIT_PRODUCTS = {1: [(0, 0)], 3: [(0, 0), (0, 1), (1, 0)]}
SPLIT_PRODUCTS[6] = SPLIT_PRODUCTS[3] + [(0, 2), (2, 0), (1, 1)]


def ways():
    """name -> compiled function (a, b) -> a @ b as float32."""
    import tensorflow as tf
    from tensorflow.compiler.tf2xla.python import xla
    from tensorflow.compiler.xla import xla_data_pb2

    dimensions = xla_data_pb2.DotDimensionNumbers(
        lhs_contracting_dimensions=[1], rhs_contracting_dimensions=[0]
    )

    def parts(x, count):
        """x as ``count`` bfloat16 parts whose float32 sum approximates it ever closer."""
        out, rest = [], x
        for _ in range(count):
            part = tf.cast(rest, tf.bfloat16)
            out.append(part)
            rest = rest - tf.cast(part, tf.float32)
        return out

    def split_product(products):
        depth = 1 + max(max(pair) for pair in products)

        @tf.function(jit_compile=True)
        def multiply(a, b):
            a_parts, b_parts = parts(a, depth), parts(b, depth)
            # One product over the concatenated parts: one float32 accumulation, one output.
            left = tf.concat([a_parts[i] for i, _ in products], axis=1)
            right = tf.concat([b_parts[j] for _, j in products], axis=0)
            return xla.dot_general(left, right, dimensions, None, preferred_element_type=tf.float32)

        return multiply

    functions = {"float32": tf.function(tf.matmul)}
    for count, products in SPLIT_PRODUCTS.items():
        functions[f"bfloat16 x{count}"] = split_product(products)
    return functions


def measure(repeats: int) -> dict:
    os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = np.tanh(rng.normal(size=(ROWS, HIDDEN))).astype(np.float32)  # tanh units
    b = (rng.normal(size=(HIDDEN, PIXELS)) * 0.1).astype(np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    functions = ways()
    errors, times = {}, {name: [] for name in functions}
    for name, function in functions.items():
        out = function(tf.constant(a), tf.constant(b)).numpy()  # compile, untimed
        errors[name] = float(np.abs(out - exact).max() / np.abs(exact).max())
    a, b = tf.constant(a), tf.constant(b)
    for _ in range(repeats):  # alternate the ways: the machine changes speed
        for name, function in functions.items():
            started = time.perf_counter()
            function(a, b).numpy()
            times[name].append(time.perf_counter() - started)
    float32_ms = statistics.median(times["float32"]) * 1e3
    result = {}
    for name in functions:
        ms = statistics.median(times[name]) * 1e3
        result[name] = {
            "milliseconds": round(ms, 2),
            "speed_vs_float32": round(float32_ms / ms, 2),
            "relative_error": float(f"{errors[name]:.2e}"),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=30, help="timed calls per way")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    result = {
        "shape": f"{ROWS}x{HIDDEN} @ {HIDDEN}x{PIXELS}",
        "threads": 1,
        "ways": measure(args.repeats),
        "machine": machine_name(),
    }
    report_json(result, args.json)


if __name__ == "__main__":
    main()
