"""Training throughput: ``mnist-vae train``'s loop against the loops a user would write.

    python benchmarks/train_throughput.py                   # the report's net1 protocol
    python benchmarks/train_throughput.py --setting mlp     # Burda et al.'s MLP, dynamic MNIST
    python benchmarks/train_throughput.py --setting mlp --strategies vae,iwae,iwae:50,vamp,vae+iaf

Settings: ``report`` is net1, latent 2, batch 400, 20,000 grey images, Adam 5e-3;
``mlp`` is the likelihood benchmark's (the IWAE paper's one-layer MLP, latent 50, batch
100, all 60,000 images dynamically binarized, Adam 1e-3).

Loops, each timed for whole epochs in this one process:
* ``ours``: ``mnist_vae.training.Fitter``, exactly what ``mnist-vae train`` runs
  (validation on 2,000 test images after every epoch included), with the thread
  settings ``mnist-vae`` starts TensorFlow with (``mnist_vae.backend``);
* ``torch`` (when PyTorch is installed; it is not a dependency): the twenty-line
  PyTorch loop, ``nn.Sequential`` networks of the same shapes, Adam, ``torch.bernoulli``
  per batch under dynamic binarization, on all the cores;
* ``keras``: the keras.io VAE example's ``train_step`` around the same registered
  networks, trained with ``model.fit`` on an in-memory float32 array.

Both Keras loops are timed from Keras's start of an epoch to its end (see ``OurLoop``),
the PyTorch loop for its whole epoch.

Repeats alternate the loops (ours, torch, keras, ours, ...) after a warm-up epoch
each; the machine changes speed from minute to minute, so each repeat's ratio
ours / other is taken on neighbouring epochs, and the medians of those paired ratios
are reported with the median images/s. Other strategies (``--strategies``) are
timed as ``ours`` only. "% of peak" is the loop's FLOPs per second against a
float32 2048x2048 matrix multiply chain on this machine, FLOPs counted layer by
layer (forward multiply-adds x 2, training = 3 x forward; IWAE decodes K samples).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mnist_vae.backend import import_backend, prepare_backend
from mnist_vae.errors import MnistVaeError, UsageError
from mnist_vae.experiments.arguments import positive_int

import_backend()  # quiet import; TensorFlow starts in run(), with the setting's threads
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

SETTINGS = {
    "report": {
        "arch": "net1",
        "latent_dim": 2,
        "batch_size": 400,
        "train_size": 20_000,
        "binarize": "none",
        "learning_rate": 0.005,
    },
    "mlp": {
        "arch": "mlp",
        "latent_dim": 50,
        "batch_size": 100,
        "train_size": None,
        "binarize": "dynamic",
        "learning_rate": 1e-3,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="report")
    parser.add_argument("--arch", default=None, help="override the setting's architecture")
    parser.add_argument("--latent-dim", type=positive_int, default=None)
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--train-size", type=positive_int, default=None)
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed epochs of each loop")
    parser.add_argument(
        "--loops",
        default="ours,torch,keras",
        help="comma-separated: ours, torch (skipped without PyTorch), keras",
    )
    parser.add_argument(
        "--strategies",
        default="",
        help="also time these strategies (ours only), e.g. iwae,iwae:50,vamp;"
        " NAME:K sets an IWAE's samples",
    )
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


def resolve_setting(args) -> dict:
    """The setting's values, overridden by any option given."""
    setting = dict(SETTINGS[args.setting])
    for key in ("arch", "latent_dim", "batch_size", "train_size"):
        if getattr(args, key) is not None:
            setting[key] = getattr(args, key)
    return setting


def parse_strategies(text: str) -> list[tuple[str, dict]]:
    """``iwae:50,vamp,vae+iaf`` -> [(strategy, options), ...]."""
    from mnist_vae.registry import strategies

    found = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, samples = item.partition(":")
        options = {}
        if name.endswith("+iaf"):
            name, options = name[: -len("+iaf")], {"posterior": "iaf"}
        strategies.check(name)
        if samples:
            if not samples.isdigit() or int(samples) < 1:
                raise UsageError(
                    f"--strategies {item!r}: K after ':' must be a positive whole "
                    "number, e.g. iwae:50"
                )
            options["iw_samples"] = int(samples)
        found.append((name, options))
    return found


def run(args) -> None:
    from mnist_vae.data import binarize_test_set, load_mnist, select_training_set
    from mnist_vae.models import model_config

    setting = resolve_setting(args)
    loops_asked = [name.strip() for name in args.loops.split(",") if name.strip()]
    unknown = sorted(set(loops_asked) - {"ours", "torch", "keras"})
    if unknown or "ours" not in loops_asked:
        raise UsageError(f"--loops takes ours (required), torch and keras, got {args.loops!r}")
    model = model_config(setting["arch"], latent_dim=setting["latent_dim"])  # a bad name fails now
    extra = parse_strategies(args.strategies)
    if "torch" in loops_asked and torch_available():
        torch_networks(setting["arch"], setting["latent_dim"])  # an arch it lacks fails now
    from mnist_vae.training.threads import choose_training_threads

    choose_training_threads(model)  # the thread layout 'mnist-vae train' would start with
    prepare_backend()

    data = load_mnist(args.data, report=print)
    size = setting["train_size"] or len(data.x_train)
    chosen = select_training_set(data.x_train, data.y_train, min(size, len(data.x_train)), 0)
    x_train, y_train = data.x_train[chosen], data.y_train[chosen]
    x_test = binarize_test_set(data.x_test, setting["binarize"])

    peak = matmul_peak_gflops()
    loops = {"ours": OurLoop(setting, "vae", {}, args, x_train, y_train, x_test, data.y_test)}
    if "torch" in loops_asked:
        if torch_available():
            loops["torch"] = TorchLoop(setting, x_train)
        else:
            print("torch: not installed, skipped (pip install torch to compare)")
    if "keras" in loops_asked:
        loops["keras"] = KerasExampleLoop(setting, x_train)
    for name, options in extra:
        key = strategy_key(name, options)
        if key != "vae":
            loops[key] = OurLoop(
                setting, name, options, args, x_train, y_train, x_test, data.y_test
            )
    flops = {name: loop.flops_per_image() for name, loop in loops.items()}
    print(f"matmul peak (float32): {peak:.1f} GFLOP/s; {args.setting} setting: {setting}")

    for loop in loops.values():  # tracing and pipeline warm-up
        loop.epoch()
    seconds = {name: [] for name in loops}
    for repeat in range(args.repeats):
        for name, loop in loops.items():
            started = time.perf_counter()
            loss = loop.epoch()
            seconds[name].append(
                getattr(loop, "epoch_seconds", None) or time.perf_counter() - started
            )
            print(
                f"repeat {repeat + 1}/{args.repeats}  {name:12s} {seconds[name][-1]:6.2f} s"
                f"  {len(x_train) / seconds[name][-1]:8.0f} images/s  train loss {loss:.2f}",
                flush=True,
            )

    results = summarise(seconds, flops, peak, len(x_train), loops)
    results.update(
        {
            "setting": args.setting,
            **setting,
            "train_images": len(x_train),
            "repeats": args.repeats,
            "precision": loops["ours"].fitter.precision,
            "threads": thread_settings(),
            "matmul_peak_gflops": round(peak, 1),
            "training_mflops_per_image": flops["ours"] / 1e6,
        }
    )
    print_table(results, loops)
    if args.json:
        from mnist_vae.io import write_json_atomic

        write_json_atomic(args.json, results)


def summarise(seconds: dict, flops: dict, peak: float, images: int, loops: dict) -> dict:
    """Median images/s and % of peak per loop, and ours' paired ratios to each reference."""
    results = {}
    for name, times in seconds.items():
        rate = images / statistics.median(times)
        results[name] = {
            "images_per_second": round(rate, 1),
            "best_images_per_second": round(images / min(times), 1),
            "percent_of_peak": round(100 * rate * flops[name] / (peak * 1e9), 1),
            "training_mflops_per_image": round(flops[name] / 1e6, 3),
            "seconds": times,
            "final_train_loss": loops[name].last_loss,
        }
    for other in ("torch", "keras"):
        if other in seconds:
            paired = [b / a for a, b in zip(seconds["ours"], seconds[other], strict=True)]
            results[f"ratio_to_{other}"] = round(statistics.median(paired), 3)
            results[f"ratios_to_{other}"] = [round(value, 3) for value in paired]
    if "keras" in seconds:  # the name earlier results used
        results["reference"] = results["keras"]
        results["ratio"] = results["ratio_to_keras"]
    return results


def print_table(results: dict, loops: dict) -> None:
    print()
    print(f"{'loop':12s} {'images/s':>10s} {'% of peak':>10s} {'best':>8s} {'final loss':>11s}")
    for name in loops:
        row = results[name]
        print(
            f"{name:12s} {row['images_per_second']:10.0f} {row['percent_of_peak']:9.1f}% "
            f"{row['best_images_per_second']:8.0f} {row['final_train_loss']:11.2f}"
        )
    for other in ("torch", "keras"):
        if f"ratio_to_{other}" in results:
            print(
                f"ours / {other}: {results[f'ratio_to_{other}']:.2f}x (median of "
                f"{len(results[f'ratios_to_{other}'])} paired repeats: "
                f"{results[f'ratios_to_{other}']})"
            )


def strategy_key(name: str, options: dict) -> str:
    key = name + ("+iaf" if options.get("posterior") == "iaf" else "")
    return key + (f":{options['iw_samples']}" if "iw_samples" in options else "")


def thread_settings() -> dict:
    """The thread layout TensorFlow started with (mnist_vae.backend sets it)."""
    import os

    return {
        "intra_op": os.environ.get("TF_NUM_INTRAOP_THREADS", "TensorFlow's default"),
        "inter_op": os.environ.get("TF_NUM_INTEROP_THREADS", "TensorFlow's default"),
    }


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class OurLoop:
    """``mnist-vae train``'s loop (``Fitter``) with its default settings.

    ``mnist-vae train`` fits all its epochs in one ``fit`` call; here each timed epoch is
    a ``fit`` call of its own (to alternate with the other loops), so it is timed from
    Keras's start of the epoch to its end, validation included (``EpochTimer``): the
    ``fit`` call's own set-up, paid once per training, is left out. It was 0 to 1.1 s
    per call here, at random.
    """

    def __init__(self, setting, strategy, options, args, x_train, y_train, x_test, y_test):
        from mnist_vae.config import RunConfig, TrainConfig
        from mnist_vae.models import build_model, model_config
        from mnist_vae.training import Fitter

        config = RunConfig(
            model=model_config(
                setting["arch"],
                strategy=strategy,
                latent_dim=setting["latent_dim"],
                options=options,
            ),
            train=TrainConfig(
                batch_size=setting["batch_size"],
                train_size=len(x_train),
                learning_rate=setting["learning_rate"],
                binarize=setting["binarize"],
                precision=args.precision or TrainConfig().precision,
            ),
        )
        self.model = build_model(config.model, seed=0)
        self.samples = getattr(self.model.options, "iw_samples", 1)  # decoder passes per image
        self.fitter = Fitter(
            self.model,
            config,
            x_train,
            y_train,
            x_test,
            y_test,
            steps_per_execution=args.steps_per_execution,
        )
        self.epochs = 0
        self.last_loss = float("nan")
        self.timer = EpochTimer()
        self.epoch_seconds = None

    def flops_per_image(self) -> float:
        return training_flops_per_image(self.model, decoder_samples=self.samples)

    def epoch(self) -> float:
        history = self.fitter.fit(self.epochs + 1, [self.timer], initial_epoch=self.epochs)
        self.epoch_seconds = self.timer.seconds
        self.epochs += 1
        self.last_loss = float(history["loss"][-1])
        return self.last_loss


class EpochTimer(keras.callbacks.Callback):
    """Seconds from the start of an epoch to its end, validation included."""

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.seconds = time.perf_counter() - self.started


class KerasExampleLoop:
    """The keras.io VAE example's training loop around the same two networks."""

    def __init__(self, setting, x_train) -> None:
        from mnist_vae.models import build_networks, model_config

        config = model_config(setting["arch"], latent_dim=setting["latent_dim"])
        encoder, decoder = build_networks(config)
        self.model = ReferenceVAE(
            encoder, decoder, setting["latent_dim"], dynamic=setting["binarize"] == "dynamic"
        )
        self.model.compile(optimizer=keras.optimizers.Adam(setting["learning_rate"]))
        self.x = (x_train.astype("float32") / 255.0)[..., None]
        self.batch_size = setting["batch_size"]
        self.last_loss = float("nan")
        self.timer = EpochTimer()  # as ours: the epoch, not the fit call's set-up
        self.epoch_seconds = None

    def flops_per_image(self) -> float:
        return training_flops_per_image(self.model)

    def epoch(self) -> float:
        history = self.model.fit(
            self.x, epochs=1, batch_size=self.batch_size, verbose=0, callbacks=[self.timer]
        )
        self.epoch_seconds = self.timer.seconds
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

    def __init__(self, encoder, decoder, latent_dim, dynamic=False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.dynamic = dynamic
        self.sampling = Sampling()
        self.total_loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        if self.dynamic:  # a fresh binary draw of the batch, as the example would add it
            data = ops.cast(keras.random.uniform(ops.shape(data)) < data, "float32")
        with tf.GradientTape() as tape:
            stats = self.encoder(data)  # our encoders return [mean, log-variance] together
            z_mean, z_log_var = stats[:, : self.latent_dim], stats[:, self.latent_dim :]
            z = self.sampling([z_mean, z_log_var])
            reconstruction = ops.sigmoid(self.decoder(z))  # the example's last activation
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            total_loss = reconstruction_loss + ops.mean(ops.sum(kl_loss, axis=1))
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}


class TorchLoop:
    """The PyTorch loop a user writes in twenty lines, networks of the same shapes.

    ``nn.Sequential`` encoder and decoder, Adam, BCE on logits summed over pixels plus
    the Gaussian KL, a fresh ``torch.randperm`` order per epoch and, under dynamic
    binarization, ``torch.bernoulli`` per batch; all the cores (``torch.get_num_threads``).
    """

    def __init__(self, setting, x_train) -> None:
        import torch

        torch.manual_seed(0)
        self.torch = torch
        self.encoder, self.decoder = torch_networks(setting["arch"], setting["latent_dim"])
        parameters = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=setting["learning_rate"])
        self.x = torch.from_numpy(x_train.astype(np.float32) / 255.0)[:, None]
        self.batch_size = setting["batch_size"]
        self.dynamic = setting["binarize"] == "dynamic"
        self.latent_dim = setting["latent_dim"]
        self.arch = setting["arch"]
        self.last_loss = float("nan")

    def flops_per_image(self) -> float:
        from mnist_vae.models import build_model, model_config

        # The same layer shapes as ours: count them on our model.
        return training_flops_per_image(
            build_model(model_config(self.arch, latent_dim=self.latent_dim))
        )

    def epoch(self) -> float:
        torch, functional = self.torch, self.torch.nn.functional
        order = torch.randperm(len(self.x))
        total, steps = 0.0, 0
        for start in range(0, len(self.x), self.batch_size):
            batch = self.x[order[start : start + self.batch_size]]
            if self.dynamic:
                batch = torch.bernoulli(batch)
            mean, log_variance = self.encoder(batch).chunk(2, dim=1)
            z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
            logits = self.decoder(z).reshape(batch.shape)
            reconstruction = functional.binary_cross_entropy_with_logits(
                logits, batch, reduction="none"
            ).sum(dim=(1, 2, 3))
            kl = -0.5 * (1 + log_variance - mean**2 - log_variance.exp()).sum(dim=1)
            loss = (reconstruction + kl).mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total, steps = total + loss.item(), steps + 1
        self.last_loss = total / steps
        return self.last_loss


def torch_networks(arch: str, latent_dim: int):
    """PyTorch twins of our ``mlp`` and ``net1`` networks (same layers, same shapes)."""
    from torch import nn

    if arch == "mlp":
        encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 200),
            nn.Tanh(),
            nn.Linear(200, 200),
            nn.Tanh(),
            nn.Linear(200, 2 * latent_dim),
        )
        decoder = nn.Sequential(
            nn.Linear(latent_dim, 200),
            nn.Tanh(),
            nn.Linear(200, 200),
            nn.Tanh(),
            nn.Linear(200, 784),
        )
        return encoder, decoder
    if arch == "net1":
        encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 2 * latent_dim),
        )
        decoder = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 64, 7, stride=7),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),
        )
        return encoder, decoder
    raise UsageError(
        f"the torch loop has the mlp and net1 networks only, not {arch!r}; pass --loops ours,keras"
    )


def matmul_peak_gflops(size: int = 2048, repeats: int = 7) -> float:
    """Median float32 GFLOP/s of size x size matmul chains, one per core side by side.

    One chain per core, so the peak is the machine's whichever thread layout TensorFlow
    started with (one thread per op runs the chains side by side).
    """
    from mnist_vae.backend import usable_cores

    chains = usable_cores()
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def run(a, b):
        ends = []
        for chain in range(chains):
            c = a + float(chain)  # distinct chains: the graph optimiser would merge equal ones
            for _ in range(8):
                c = tf.linalg.matmul(c, b) * 1e-3
            ends.append(c)
        return ends

    run(a, b)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        [end.numpy() for end in run(a, b)]
        rates.append(chains * 8 * 2 * size**3 / (time.perf_counter() - started) / 1e9)
    return statistics.median(rates)


def training_flops_per_image(model, decoder_samples: int = 1) -> float:
    """3 x forward FLOPs (2 per multiply-add) of the convolutions and dense layers.

    ``decoder_samples``: decoder passes per image (an IWAE's K).
    """
    forward = 0
    for network, passes in ((model.encoder, 1), (model.decoder, decoder_samples)):
        for layer in network.layers:
            if isinstance(layer, keras.layers.Conv2DTranspose):  # before Conv2D: a subclass
                h, w, c_in = layer.input.shape[1:]
                kh, kw = layer.kernel_size
                forward += passes * 2 * h * w * kh * kw * c_in * layer.filters
            elif isinstance(layer, keras.layers.Conv2D):
                h, w, _ = layer.output.shape[1:]
                kh, kw = layer.kernel_size
                forward += passes * 2 * h * w * kh * kw * layer.input.shape[-1] * layer.filters
            elif isinstance(layer, keras.layers.Dense):
                forward += passes * 2 * int(np.prod(layer.input.shape[1:])) * layer.units
    return 3.0 * forward


if __name__ == "__main__":
    main()
