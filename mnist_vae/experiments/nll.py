"""``mnist-vae benchmark nll``: test-set negative log-likelihood, the field's benchmark.

For each model (trained here with the same architecture and budget, or given as
runs): -log p(x) estimated by importance sampling with K samples (the IWAE bound
with a large K, as Burda et al. 2016 evaluate), the negative ELBO and KL, the number
of active latent units (dimensions whose posterior mean varies across the test set
by more than 0.01, as Burda et al. count them), parameters, epochs and wall times.
The default setting is the literature's: dynamically binarized MNIST, the IWAE
paper's one-stochastic-layer MLP with 50 latent dimensions.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.config import BINARIZATIONS, HOW_IT_RAN, RunConfig, TrainConfig
from mnist_vae.data import MnistData, binarize_test_set, to_float_images
from mnist_vae.declarations import option, seed_setting
from mnist_vae.errors import ConfigError
from mnist_vae.experiments.skeleton import Bench, bench_stage, trained_run
from mnist_vae.io import write_json_atomic
from mnist_vae.progress import task
from mnist_vae.registry import strategies

ACTIVE_UNIT_THRESHOLD = 0.01
# Published figures to quote beside ours: test NLL on dynamically binarized MNIST, nats,
# each for the papers' setting (an MLP and its latent size); quoted only beside models
# of that setting. docs/zoo.md says where each comes from and how sure the figure is:
# Burda et al.'s are their Table 1 as a public reproduction's README (nbip/IWAE) quotes it.
ONE_LAYER_MLP = {"architecture": "mlp", "latent_dim": 50, "binarize": "dynamic"}
TWO_LAYER_MLP = {"architecture": "mlp", "latent_dim": 100, "binarize": "dynamic"}
ANCHORS = {
    "vae": ("Burda et al. 2016, VAE, one stochastic layer (k=1)", 86.76, ONE_LAYER_MLP),
    "iwae": (
        "Burda et al. 2016, IWAE, one stochastic layer, k=5 (84.78 with k=50)",
        85.54,
        ONE_LAYER_MLP,
    ),
    "vae+iaf": (
        "Kingma et al. 2016, ResNet VAE with IAF (convolutional: for scale only)",
        79.88,
        ONE_LAYER_MLP,
    ),
    # Burda et al.'s two-stochastic-layer model is iwae2 (bottom-up inference), and its
    # figure depends on the K it trained with; hvae, a ladder VAE, has no paper row. The
    # VampPrior paper's dynamic-MNIST rows could not be opened: no figure for vamp.
    "iwae2-k1": ("Burda et al. 2016, VAE, two stochastic layers (k=1)", 85.33, TWO_LAYER_MLP),
    "iwae2-k5": ("Burda et al. 2016, IWAE, two stochastic layers, k=5", 83.89, TWO_LAYER_MLP),
    "iwae2-k50": ("Burda et al. 2016, IWAE, two stochastic layers, k=50", 82.90, TWO_LAYER_MLP),
}
IWAE2_DEFAULT_SAMPLES = 5  # iwae2's iw_samples when the run's options leave it out


def model_key(strategy: str, options: dict | None = None) -> str:
    """The anchors' name for a model: its strategy, ``+iaf`` with a flow posterior,
    ``iwae2-kK`` for the two-layer IWAE trained with K samples."""
    options = options or {}
    if strategy == "iwae2":
        return f"iwae2-k{options.get('iw_samples', IWAE2_DEFAULT_SAMPLES)}"
    return strategy + ("+iaf" if options.get("posterior") == "iaf" else "")


def anchor_for(
    strategy: str,
    architecture: str | None,
    latent_dim: int,
    binarize: str,
    options: dict | None = None,
):
    """The paper's (label, figure) for this model, if it was measured in the paper's setting."""
    anchor = ANCHORS.get(model_key(strategy, options))
    setting = {"architecture": architecture, "latent_dim": latent_dim, "binarize": binarize}
    return anchor[:2] if anchor and setting == anchor[2] else None


@dataclass(frozen=True)
class NllConfig:
    """What to train (or which runs to measure) and how to measure them; each field with
    ``option`` is a flag of ``benchmark nll``, declared here only."""

    strategies: tuple[str, ...] = option(
        ("vae", "iwae", "vamp"),
        "Comma-separated strategies to train with the same networks and budget ('' for none).",
        registry="strategies",
    )
    runs: tuple[str, ...] = option(
        (),
        "Also measure this run (repeatable); a run still in training at its newest whole epoch.",
        flag="run",
        repeat=True,
        path="run",
    )
    arch: str = option("mlp", "Architecture of the models trained here.", registry="architectures")
    latent_dim: int = option(50, "Size of z.", minimum=1, maximum=4096)
    epochs: int = option(100, "Epochs per model.", minimum=1)
    batch_size: int = option(100, "Images per step.", minimum=1)
    learning_rate: float = option(
        1e-3, "Adam's learning rate.", minimum=0, exclusive_minimum=True, flag="lr"
    )
    binarize: str = option(
        "dynamic",
        "Training pixels (the test set follows): dynamic is the literature's setting.",
        choices=BINARIZATIONS,
    )
    iw_samples: int = option(
        5000,
        "K, the importance samples per test image (the IWAE paper used 5000).",
        minimum=1,
        maximum=100_000,
    )
    seed: int = seed_setting(
        "Random seed: initial weights, shuffling, binary draws and importance samples."
    )
    options: dict[str, Any] = option(  # noqa: RUF009 (option gives each record its own dict)
        {},
        "A strategy option, for every strategy that declares it (e.g. iw_samples=50, "
        "pseudo_inputs=500). Repeatable.",
        metavar="NAME=VALUE",
        flag="option",
    )
    quick: bool = option(False, "One epoch per model, 200 test images: checks the pipeline.")

    def __post_init__(self) -> None:
        if not self.runs and not self.strategies:
            raise ConfigError("give strategies to train or runs to measure")
        if len(set(self.strategies)) != len(self.strategies):  # each would train twice
            raise ConfigError(f"strategies must be distinct, got {','.join(self.strategies)}")
        where = [r if r.startswith("pretrained:") else os.path.realpath(r) for r in self.runs]
        if len(set(where)) != len(where):
            raise ConfigError(
                f"--run gives one run twice ({' '.join(self.runs)}): each is measured once"
            )
        for name in self.strategies:
            strategies.check(name)
        from mnist_vae.registry import architectures

        architectures.check(self.arch)
        if self.binarize not in BINARIZATIONS:
            raise ConfigError(f"binarize must be one of {', '.join(BINARIZATIONS)}")
        if self.iw_samples < 1:
            raise ConfigError(f"iw_samples must be at least 1, got {self.iw_samples}")
        declared = {
            field.name
            for name in self.strategies
            for field in dataclasses.fields(strategies.get(name).options)
        }
        unknown = sorted(set(self.options) - declared)
        if unknown:
            raise ConfigError(
                f"option {', '.join(unknown)} applies to none of {', '.join(self.strategies)}"
            )

    def run_config(self, strategy: str) -> RunConfig:
        """The training of one strategy: the same networks and budget for every model."""
        from mnist_vae.models import model_config

        declared = {field.name for field in dataclasses.fields(strategies.get(strategy).options)}
        options = {name: value for name, value in self.options.items() if name in declared}
        train = TrainConfig(
            epochs=1 if self.quick else self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            train_size=None,
            seed=self.seed,
            binarize=self.binarize,
        )
        model = model_config(
            self.arch, strategy=strategy, latent_dim=self.latent_dim, options=options
        )
        return RunConfig(model=model, train=train)


def active_units(codes: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Latent dimensions whose code varies across the data by more than ``threshold``."""
    return int(np.sum(np.var(codes.reshape(len(codes), -1), axis=0) > threshold))


def measure_run(
    run,
    data: MnistData,
    *,
    iw_samples: int,
    seed: int = 0,
    test_images: int | None = None,
    progress: Callable | None = None,
) -> dict:
    """NLL by importance sampling, ELBO, KL and active units of ``run`` on its test set.

    The importance sampling shows as a task (``mnist_vae.progress``); ``progress``, if
    given, is also called with the number of test images done.
    """
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
    from mnist_vae.models.inference import encode_codes, evaluate_elbo

    model = run.load_model()
    mode = run.config.train.binarize
    x_test = binarize_test_set(data.x_test, mode)[:test_images]
    y_test = data.y_test[:test_images]
    images = to_float_images(x_test)
    labels = y_test.astype("int32") if model.conditional else None
    elbo = evaluate_elbo(model, images, y_test, traced=False)  # one call per loaded model
    name = f"NLL of {run.config.model.strategy} ({run.path.name}), K={iw_samples}"
    started = time.perf_counter()
    with task(name, total=len(images), unit="images") as bound:

        def done(count: int) -> None:
            bound.update(completed=count)
            if progress is not None:
                progress(count)

        nll = iwae_negative_log_likelihood(
            model, images, labels, samples=iw_samples, seed=seed, on_chunk=done
        )
    seconds = time.perf_counter() - started
    measured = {
        "test_images": len(images),
        "iw_samples": iw_samples,
        "nll": float(np.mean(nll)),
        "negative_elbo": elbo["loss"],
        "kl": elbo["kl"],
        "active_units": active_units(encode_codes(model, images, labels)),
        "parameters": int(model.count_params()),
    }
    return _row(run, measured, seconds)


def _row(run, measured: dict, seconds: float) -> dict:
    """One row of the table: the run's settings, what was ``measured`` and the times."""
    model = run.config.model
    mode = run.config.train.binarize
    return {
        "run": str(run.path),
        "strategy": model.strategy,
        "architecture": model.architecture,
        "latent_dim": model.latent_dim,
        "binarize": mode,
        **measured,
        "seed": run.config.train.seed,
        "recipe": recipe_of(run.config),
        "epochs": run.metrics.get("epochs"),
        **(
            {"in_progress": True, "planned_epochs": run.config.train.epochs}
            if run.metrics.get("in_progress")
            else {}
        ),
        "train_seconds": run.metrics.get("train_seconds"),
        "nll_seconds": round(seconds, 1),
        "nll_decoder_passes_per_second": round(
            measured["iw_samples"] * measured["test_images"] / seconds
        ),
        "options": dict(model.options),
        "anchor": anchor_for(
            model.strategy, model.architecture, model.latent_dim, mode, model.options
        ),
    }


def run_nll_benchmark(
    config: NllConfig,
    data: MnistData,
    out: str | Path,
    *,
    overwrite: bool = False,
    restart: bool = False,
    report=print,
) -> dict:
    """Train (or load) each model, measure it, and write results.json and nll.png to ``out``.

    An interrupted benchmark of ``out`` with the same config and data continues where
    it stopped: each training (itself resumed from its last checkpoint) and each
    measurement is a step, kept as soon as it is done. With another config or data it
    is a usage error unless ``restart`` (discard it). Progress shows as a task over the
    steps, with the time left for the whole benchmark, and each step's own task
    (``mnist_vae.progress``).
    """
    measured = [
        *(f"measure-run{index}" for index in range(len(config.runs))),
        *(f"measure-{strategy}" for strategy in config.strategies),
    ]
    names = [*(f"train-{strategy}" for strategy in config.strategies), *measured]
    with bench_stage(
        "nll", config, data, out, names, overwrite=overwrite, restart=restart, report=report
    ) as bench:
        with tempfile.TemporaryDirectory(prefix="mnist-vae-nll-") as scratch:
            runs = [_opened(path, Path(scratch), report) for path in config.runs]
            runs += [_trained(config, data, strategy, bench) for strategy in config.strategies]
            rows = [
                _measured(config, data, run, step, Path(out), bench)
                for run, step in zip(runs, measured, strict=True)
            ]
        results = bench.results(config, data, rows=rows, spread=seed_spread(rows))
        write_json_atomic(bench.stage / "results.json", results)
        plot_nll(rows, bench.stage / "nll.png")
    return results


# A recipe is what was made: the seed and how the run ran are left out.
NOT_RECIPE = ("seed", *HOW_IT_RAN)


def recipe_of(config) -> str:
    """A run's recipe: its config but for the seed (and where and how it ran), as a short
    hash. Runs with one recipe and other seeds are one model's spread."""
    import hashlib
    import json

    made = config.to_dict()
    train = {k: v for k, v in made["train"].items() if k not in NOT_RECIPE}
    text = json.dumps({**made, "train": train}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def seed_spread(rows: list[dict]) -> list[dict]:
    """Per recipe measured with two seeds or more: the NLL's mean and sample standard
    deviation over the seeds (each seed's first row), and the seeds and values.

    Only rows measured alike pool: the same K on the same number of test images."""
    by_recipe: dict[tuple, dict[int, dict]] = {}
    for row in rows:
        if row.get("recipe") is not None and not row.get("in_progress"):
            key = (row["recipe"], row["iw_samples"], row["test_images"])
            by_recipe.setdefault(key, {}).setdefault(row["seed"], row)
    spread = []
    for (recipe, _, _), by_seed in by_recipe.items():
        if len(by_seed) < 2:
            continue
        seeds = sorted(by_seed)
        values = np.array([by_seed[seed]["nll"] for seed in seeds], dtype=float)
        first = by_seed[seeds[0]]
        spread.append(
            {
                "model": model_key(first["strategy"], first.get("options")),
                "recipe": recipe,
                "seeds": seeds,
                "nll": values.tolist(),
                "nll_mean": float(values.mean()),
                "nll_std": float(values.std(ddof=1)),
                "iw_samples": first["iw_samples"],
                "test_images": first["test_images"],
            }
        )
    return spread


def _opened(path: str, scratch: Path, report):
    """The run at ``path``; a run still in training at its newest epoch-end checkpoint
    (its weights copied into ``scratch``), said so in a line."""
    from mnist_vae.runs import load_run
    from mnist_vae.training.in_progress import in_progress, open_in_progress

    if not in_progress(path):
        return load_run(path)
    run = open_in_progress(path, scratch)
    report(
        f"{path} is not finished: measuring its newest checkpoint, after epoch "
        f"{run.metrics['epochs']} of {run.config.train.epochs}"
    )
    return run


def _trained(config: NllConfig, data: MnistData, strategy: str, bench: Bench):
    """Step ``train-STRATEGY``: its run in the stage, trained unless it is there."""
    trained = bench.stage / "runs" / strategy
    run = trained_run(
        trained,
        lambda: config.run_config(strategy),
        data,
        bench.report,
        f"training {strategy} ({config.arch}, latent {config.latent_dim}, "
        f"{config.binarize} binarization) ...",
    )
    test = run.metrics["test"]["negative_elbo"]
    bench.step(
        f"train-{strategy}",
        lambda: {"run": trained.name, "negative_elbo": test},
        lambda _: (
            f"  {strategy}: test negative ELBO {test:.2f} nats "
            f"({run.metrics['train_seconds']:.0f} s)"
        ),
    )
    return run


def _measured(config: NllConfig, data: MnistData, run, step: str, out: Path, bench: Bench) -> dict:
    """Step ``step``: ``run``'s row, measured unless it was before an interruption."""

    def measure() -> dict:
        row = measure_run(
            run,
            data,
            iw_samples=config.iw_samples,
            seed=config.seed,
            test_images=200 if config.quick else None,
        )
        if run.path.is_relative_to(bench.stage):  # where the run will be once out is in place
            row["run"] = str(out / run.path.relative_to(bench.stage))
        return row

    name = f"{run.config.model.strategy} ({run.path.name})"
    return bench.step(
        step,
        measure,
        lambda row: (
            f"  {name}: NLL {row['nll']:.2f} nats "
            f"(K={config.iw_samples}, {row['nll_seconds']:.0f} s)"
        ),
    )


def plot_nll(rows: list[dict], path: Path) -> None:
    """Our NLL per model as bars, each paper's figure as a marker beside it."""
    from mnist_vae.config import code_size
    from mnist_vae.runs.figures import new_figure, save_figure

    figure, axis = new_figure(7, 0.6 * len(rows) + 1.6)
    budgets = {r.get("epochs") for r in rows}  # the epochs go in the label when they differ
    names = [
        f"{model_key(r['strategy'], r.get('options'))} ({r['architecture'] or '?'}, "
        f"z{code_size(r['latent_dim'], (r.get('options') or {}).get('top_latent_dim'))}"
        + (f", {r.get('epochs')} ep)" if len(budgets) > 1 else ")")
        for r in rows
    ]
    positions = np.arange(len(rows))
    axis.barh(positions, [r["nll"] for r in rows], color="tab:blue", label="ours")
    labelled = False
    for position, row in zip(positions, rows, strict=True):
        axis.annotate(
            f"{row['nll']:.2f}",
            (row["nll"], position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
        if row["anchor"]:
            axis.plot(
                row["anchor"][1],
                position,
                marker="D",
                color="tab:orange",
                linestyle="none",
                label=None if labelled else "paper",
            )
            labelled = True
    axis.set_yticks(positions, names, fontsize=8)
    lowest = min([r["nll"] for r in rows] + [r["anchor"][1] for r in rows if r["anchor"]])
    axis.set_xlim(left=max(0.0, lowest - 10))
    axis.set_xlabel("test negative log-likelihood (nats, lower is better)")
    axis.set_title(f"importance sampling with K = {rows[0]['iw_samples']}", fontsize=10)
    axis.set_ylim(-0.6, len(rows) - 0.4 + 0.6)  # room above the bars for the legend
    axis.legend(fontsize=8, loc="upper right")
    axis.grid(axis="x", alpha=0.3)
    save_figure(figure, path)
