"""Training throughput: mnist-vae's training loop against a keras.io-style reference.

    python benchmarks/train_throughput.py                 # net1, latent 2, batch 400, 20,000 images
    python benchmarks/train_throughput.py --repeats 7 --arch net4

The reference is written the way the keras.io VAE example is: a ``keras.Model`` whose
``train_step`` computes sigmoid outputs, binary cross-entropy summed over pixels and the
KL term, trained with ``model.fit`` on an in-memory float32 numpy array. It uses the
same registered encoder and decoder as ours, so the comparison is of training loops,
not networks. "Ours" is ``mnist_vae.training.Fitter``, exactly what ``mnist-vae train``
runs, validation on the 10,000 test images after every epoch included.

Both train in the same process; repeats alternate (reference, ours, reference, ...)
after one warm-up epoch each, and each repeat times one epoch. The script prints the
median images/s of each, their ratio, the float32 matrix-multiply peak of this machine
and the fraction of it each loop reaches, from the FLOPs per training image counted
layer by layer (forward multiply-adds x 2, training = 3 x forward).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mnist_vae.backend import prepare_backend
from mnist_vae.errors import MnistVaeError, UsageError

prepare_backend()  # quiet TensorFlow start-up, before the imports below
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402


def positive_int(text: str) -> int:
    """argparse type: bad counts are usage errors, not tracebacks later on."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", default="net1")
    parser.add_argument("--latent-dim", type=positive_int, default=2)
    parser.add_argument("--batch-size", type=positive_int, default=400)
    parser.add_argument("--train-size", type=positive_int, default=20_000)
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed epochs of each loop")
    parser.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16", "auto"),
        default=None,
        help="ours: as 'mnist-vae train' (default: its default)",
    )
    parser.add_argument(
        "--steps-per-execution", type=positive_int, default=None, help="ours: override the default"
    )
    parser.add_argument("--data", default=None, help="as 'mnist-vae train --data'")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    try:
        run(args)
    except UsageError as exc:
        parser.error(str(exc))
    except MnistVaeError as exc:
        raise SystemExit(f"error: {exc}") from None


def run(args) -> None:
    from mnist_vae.data import load_mnist, select_training_set
    from mnist_vae.models import model_config

    model_config(args.arch, latent_dim=args.latent_dim)  # a bad name fails before any data

    data = load_mnist(args.data, report=print)
    chosen = select_training_set(data.x_train, data.y_train, args.train_size, 0)
    x_train, y_train = data.x_train[chosen], data.y_train[chosen]

    peak = matmul_peak_gflops()
    ours = OurLoop(args, x_train, y_train, data)
    reference = ReferenceLoop(args, x_train)
    flops = training_flops_per_image(ours.model)
    print(f"matmul peak (float32): {peak:.1f} GFLOP/s; training: {flops / 1e6:.2f} MFLOP/image")

    for loop in (reference, ours):  # tracing and pipeline warm-up
        loop.epoch()
    seconds = {"reference": [], "ours": []}
    for repeat in range(args.repeats):
        for name, loop in (("reference", reference), ("ours", ours)):
            started = time.perf_counter()
            loss = loop.epoch()
            seconds[name].append(time.perf_counter() - started)
            print(f"repeat {repeat + 1}/{args.repeats}  {name:9s} {seconds[name][-1]:6.2f} s"
                  f"  train loss {loss:.2f}")  # fmt: skip

    results = {
        "precision": ours.fitter.precision, "arch": args.arch, "latent_dim": args.latent_dim,
        "batch_size": args.batch_size,
        "train_images": len(x_train), "repeats": args.repeats,
        "matmul_peak_gflops": round(peak, 1), "training_mflops_per_image": flops / 1e6,
    }  # fmt: skip
    print()
    print(f"{'loop':10s} {'images/s':>10s} {'% of peak':>10s} {'best':>8s} {'final loss':>11s}")
    for name, loop in (("reference", reference), ("ours", ours)):
        rate = len(x_train) / statistics.median(seconds[name])
        best = len(x_train) / min(seconds[name])
        share = 100 * rate * flops / (peak * 1e9)
        results[name] = {"images_per_second": round(rate, 1), "percent_of_peak": round(share, 1),
                         "best_images_per_second": round(best, 1), "seconds": seconds[name],
                         "final_train_loss": loop.last_loss}  # fmt: skip
        print(f"{name:10s} {rate:10.0f} {share:9.1f}% {best:8.0f} {loop.last_loss:11.2f}")
    ratio = results["ours"]["images_per_second"] / results["reference"]["images_per_second"]
    best_ratio = (
        results["ours"]["best_images_per_second"] / results["reference"]["best_images_per_second"]
    )
    results["ratio"], results["best_ratio"] = round(ratio, 3), round(best_ratio, 3)
    print(f"ratio ours / reference: {ratio:.2f}x (medians of {args.repeats} alternating repeats; "
          f"fastest epochs: {best_ratio:.2f}x)")  # fmt: skip
    if args.json:
        from mnist_vae.io import write_json_atomic

        write_json_atomic(args.json, results)


class OurLoop:
    """``mnist-vae train``'s loop (``Fitter``) with its default settings."""

    def __init__(self, args, x_train, y_train, data) -> None:
        from mnist_vae.config import RunConfig, TrainConfig
        from mnist_vae.models import build_model, model_config
        from mnist_vae.training import Fitter

        config = RunConfig(
            model=model_config(args.arch, latent_dim=args.latent_dim),
            train=TrainConfig(
                batch_size=args.batch_size,
                train_size=args.train_size,
                precision=args.precision or TrainConfig().precision,
            ),
        )
        self.model = build_model(config.model, seed=0)
        self.fitter = Fitter(
            self.model, config, x_train, y_train, data.x_test, data.y_test,
            steps_per_execution=args.steps_per_execution,
        )  # fmt: skip
        self.last_loss = float("nan")

    def epoch(self) -> float:
        self.last_loss = float(self.fitter.fit(1)["loss"][-1])
        return self.last_loss


class ReferenceLoop:
    """The keras.io VAE example's training loop around the same two networks."""

    def __init__(self, args, x_train) -> None:
        import keras

        from mnist_vae.models import build_networks, model_config

        config = model_config(args.arch, latent_dim=args.latent_dim)
        encoder, decoder = build_networks(config)
        self.model = ReferenceVAE(encoder, decoder, args.latent_dim)
        self.model.compile(optimizer=keras.optimizers.Adam(0.005))
        self.x = (x_train.astype("float32") / 255.0)[..., None]
        self.batch_size = args.batch_size
        self.last_loss = float("nan")

    def epoch(self) -> float:
        history = self.model.fit(self.x, epochs=1, batch_size=self.batch_size, verbose=0)
        self.last_loss = float(history.history["loss"][-1])
        return self.last_loss


class Sampling(keras.layers.Layer):
    """The keras.io example's sampling layer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class ReferenceVAE(keras.Model):
    """The keras.io example's VAE: sigmoid outputs, BCE summed over pixels, KL."""

    def __init__(self, encoder, decoder, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.sampling = Sampling()
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            stats = self.encoder(data)  # our encoders return [mean, log-variance] together
            z_mean, z_log_var = stats[:, : self.latent_dim], stats[:, self.latent_dim :]
            z = self.sampling([z_mean, z_log_var])
            reconstruction = ops.sigmoid(self.decoder(z))  # the example's last activation
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def matmul_peak_gflops(size: int = 2048, repeats: int = 7) -> float:
    """Median float32 GFLOP/s of a size x size matmul chain (the machine's practical peak)."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def chain(a, b):
        c = a
        for _ in range(8):
            c = tf.linalg.matmul(c, b) * 1e-3
        return c

    chain(a, b).numpy()
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        chain(a, b).numpy()
        rates.append(8 * 2 * size**3 / (time.perf_counter() - started) / 1e9)
    return statistics.median(rates)


def training_flops_per_image(model) -> float:
    """3 x forward FLOPs (2 per multiply-add) of the convolutions and dense layers."""
    forward = 0
    for network in (model.encoder, model.decoder):
        for layer in network.layers:
            if isinstance(layer, keras.layers.Conv2DTranspose):  # before Conv2D: a subclass
                h, w, c_in = layer.input.shape[1:]
                kh, kw = layer.kernel_size
                forward += 2 * h * w * kh * kw * c_in * layer.filters
            elif isinstance(layer, keras.layers.Conv2D):
                h, w, _ = layer.output.shape[1:]
                kh, kw = layer.kernel_size
                forward += 2 * h * w * kh * kw * layer.input.shape[-1] * layer.filters
            elif isinstance(layer, keras.layers.Dense):
                forward += 2 * int(np.prod(layer.input.shape[1:])) * layer.units
    return 3.0 * forward


if __name__ == "__main__":
    main()
