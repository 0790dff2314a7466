"""Importance-sampled scoring: ``benchmark nll``'s against the loop a PyTorch user writes.

    python benchmarks/nll_torch.py --run pretrained:mlp-vae-z50 --json nll-torch.json

Both sides score the same dynamically binarized test images at K importance samples
(5,000, the benchmark's) with the same weights: the MLP run's (``--run``, a folder or
``pretrained:NAME``; Burda et al.'s 784-200-200-50 network), copied into ``nn.Sequential`` twins
(``train_throughput.torch_networks``). The PyTorch loop is the plain one: per image,
its K draws in one batch under ``torch.no_grad()``, ``binary_cross_entropy_with_logits``
and ``torch.logsumexp``, on all the cores. Ours is ``iwae_negative_log_likelihood``,
what ``benchmark nll`` runs, with the thread settings ``mnist-vae`` starts TensorFlow
with. Both run in this one process, alternating, after one untimed pass each; reported:
each side's median seconds and decoder passes per second, the median of the paired
ratios, and each side's mean NLL (different draws of z: they differ by the Monte Carlo error,
which a VAE's heavy-tailed importance weights make tenths of a nat on 100 images; the
networks themselves agree to 2e-5). PyTorch is not a dependency: install it to run this.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

from mnist_vae.experiments.arguments import machine_name, positive_int, report_json

LOG_TWO_PI = math.log(2 * math.pi)


def torch_twins(model):
    """The run's MLP encoder and decoder as ``nn.Sequential`` with its weights."""
    import torch
    from train_throughput import torch_networks

    encoder, decoder = torch_networks("mlp", model.latent_dim)
    for keras_network, torch_network in ((model.encoder, encoder), (model.decoder, decoder)):
        weights = [w.numpy() for w in keras_network.weights]  # kernel, bias, kernel, ...
        linears = [m for m in torch_network if isinstance(m, torch.nn.Linear)]
        if len(weights) != 2 * len(linears):
            raise SystemExit(f"nll_torch.py: {keras_network.name!r} is not the mlp network")
        for linear, kernel, bias in zip(linears, weights[::2], weights[1::2], strict=True):
            linear.weight.data = torch.from_numpy(kernel.T.copy())
            linear.bias.data = torch.from_numpy(bias)
    return encoder.eval(), decoder.eval()


def torch_scores(encoder, decoder, images, samples: int, latent: int, seed: int):
    """-log p(x) per image by the K-sample IWAE bound: the twenty-line PyTorch loop."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    scores = []
    with torch.no_grad():
        for x in torch.from_numpy(images).reshape(len(images), 784):
            stats = encoder(x[None])
            mean, log_variance = stats[:, :latent], stats[:, latent:]
            noise = torch.randn(samples, latent, generator=generator)
            z = mean + torch.exp(0.5 * log_variance) * noise
            logits = decoder(z)
            log_likelihood = -F.binary_cross_entropy_with_logits(
                logits, x.expand_as(logits), reduction="none"
            ).sum(-1)
            log_prior = -0.5 * (z**2 + LOG_TWO_PI).sum(-1)
            log_posterior = -0.5 * (noise**2 + log_variance + LOG_TWO_PI).sum(-1)
            log_weights = log_likelihood + log_prior - log_posterior
            scores.append(math.log(samples) - torch.logsumexp(log_weights, 0))
    return torch.stack(scores).numpy()


def measure(run: Path, count: int, samples: int, repeats: int) -> dict:
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    import numpy as np
    import torch

    from mnist_vae.data import binarize_test_set, data_label, load_mnist, to_float_images
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
    from mnist_vae.runs import load_run

    loaded = load_run(run)
    networks = (loaded.config.model.encoder, loaded.config.model.decoder)
    if networks != ("mlp", "mlp") or loaded.config.model.strategy not in ("vae", "iwae"):
        raise SystemExit(f"nll_torch.py: {run} is not a vae or iwae run with --arch mlp")
    model = loaded.load_model()
    data = load_mnist()
    images = to_float_images(binarize_test_set(data.x_test, "dynamic")[:count])
    encoder, decoder = torch_twins(model)
    sides = {
        "ours": lambda x: iwae_negative_log_likelihood(model, x, samples=samples, seed=1),
        "torch": lambda x: torch_scores(encoder, decoder, x, samples, model.latent_dim, 1),
    }
    for side in sides.values():
        side(images[:8])  # trace, warm up
    seconds, nll = {name: [] for name in sides}, {}
    for repeat in range(repeats):
        order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
        for name in order:
            started = time.perf_counter()
            nll[name] = float(np.mean(sides[name](images)))
            seconds[name].append(time.perf_counter() - started)
        print(
            f"repeat {repeat + 1}/{repeats}: ours {seconds['ours'][-1]:.2f} s, "
            f"torch {seconds['torch'][-1]:.2f} s",
            file=sys.stderr,
        )
    ratios = [t / o for o, t in zip(seconds["ours"], seconds["torch"], strict=True)]
    return {
        "images": count,
        "samples": samples,
        "data": data_label(data.provenance),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sides": {
            name: {
                "median_seconds": round(statistics.median(seconds[name]), 3),
                "decoder_passes_per_second": round(
                    count * samples / statistics.median(seconds[name])
                ),
                "mean_nll": round(nll[name], 3),
            }
            for name in sides
        },
        "speed_vs_torch": round(statistics.median(ratios), 3),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="an --arch mlp run, or pretrained:NAME")
    parser.add_argument("--images", type=positive_int, default=100, help="test images timed")
    parser.add_argument("--samples", type=positive_int, default=5000, help="K")
    parser.add_argument("--repeats", type=positive_int, default=5, help="paired measurements")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        parser.error("PyTorch is not installed (it is not a dependency): pip install torch")
    from mnist_vae.errors import MnistVaeError
    from mnist_vae.runs.pretrained import is_pretrained, run_path

    try:
        run = run_path(args.run) if is_pretrained(args.run) else Path(args.run)
    except MnistVaeError as error:
        parser.error(str(error))
    if not (run / "config.json").is_file():
        parser.error(f"{args.run} is not a run folder (no config.json)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # train_throughput's twins
    result = measure(run, args.images, args.samples, args.repeats)
    result["machine"] = machine_name()
    report_json(result, args.json)


if __name__ == "__main__":
    main()
