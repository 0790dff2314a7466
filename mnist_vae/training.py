"""Train a model from a RunConfig and write a complete run directory.

The run is staged in a temporary sibling folder and renamed into place only when
everything (model, metrics, figures) is written; a crash leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_vae._lazy import prepare_backend
from mnist_vae.config import RunConfig
from mnist_vae.data import (
    MnistData,
    binarized,
    load_mnist,
    make_dataset,
    select_training_set,
)
from mnist_vae.errors import RunError
from mnist_vae.io import check_output_dir, staged_dir, write_json_atomic
from mnist_vae.run import RUN_FORMAT, Run, load_run
from mnist_vae.versions import package_versions

Reporter = Callable[[str], None]
# Training steps per call into the compiled graph: fewer Python round trips per epoch.
STEPS_PER_EXECUTION = 50
# Test images scored after every epoch (the loss curves); the final metrics use all.
VALIDATION_IMAGES = 2_000


def train(
    config: RunConfig,
    out: str | Path,
    *,
    data: MnistData | None = None,
    overwrite: bool = False,
    progress: bool = True,
    report: Reporter | None = None,
    command: str | None = None,
) -> Run:
    """Train ``config`` and write the run to ``out``; returns the loaded ``Run``.

    With ``--distribute multiworker`` every worker runs this; only the chief writes
    ``out`` (the others work in a temporary folder they delete) and they return None.
    """
    say = report or print
    from mnist_vae._lazy import quiet_tensorflow_startup
    from mnist_vae.distribute import is_chief, make_strategy

    # The strategy before any other TensorFlow work: multi-worker setup requires it.
    with quiet_tensorflow_startup():
        strategy = make_strategy(config.train.distribute)
    prepare_backend()
    if not is_chief(strategy):
        with tempfile.TemporaryDirectory(prefix="mnist-vae-worker-") as scratch:
            scratch_run = Path(scratch) / "run"
            _train(config, strategy, scratch_run, data, overwrite=False, progress=False,
                   say=say, command=command)  # fmt: skip
        return None
    out = check_output_dir(Path(out), overwrite=overwrite)
    return _train(config, strategy, out, data, overwrite=overwrite, progress=progress, say=say,
                  command=command)  # fmt: skip


def _train(config, strategy, out: Path, data, *, overwrite, progress, say, command) -> Run:
    import keras

    from mnist_vae.build import build_model

    def scope():
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    # The model first: a configuration error should not wait for a data download.
    seed = config.train.seed
    keras.utils.set_random_seed(seed)
    with scope():
        model = build_model(config.model, seed=seed)
    if strategy is not None:
        model.check_distributable()

    started = time.perf_counter()
    if data is None:
        data = load_mnist(config.train.data, report=say)
    data_seconds = time.perf_counter() - started
    say(f"{data.describe()} [{data_seconds:.1f} s]")
    if config.train.binarize:
        data = dataclasses.replace(
            data, x_train=binarized(data.x_train), x_test=binarized(data.x_test)
        )
    chosen = select_training_set(data.x_train, data.y_train, config.train.train_size, seed)
    x_train, y_train = data.x_train[chosen], data.y_train[chosen]

    with staged_dir(out, overwrite=overwrite) as stage:
        with scope():  # the optimizer's variables must be created under the strategy too
            fitter = Fitter(model, config, x_train, y_train, data.x_test, data.y_test)
        # Record what ran: "auto" precision becomes the one this machine used.
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, precision=fitter.precision)
        )
        callbacks = [keras.callbacks.CSVLogger(str(stage / "history.csv"))]
        if progress:
            from mnist_vae.progress import RichProgress

            callbacks.append(RichProgress(config.train.epochs, fitter.steps_per_epoch))
        fit_start = time.perf_counter()
        history = fitter.fit(config.train.epochs, callbacks)
        fit_seconds = time.perf_counter() - fit_start
        _check_finite(history, model, config)

        model.save(stage / "model.keras")
        for name, network in model.extra_networks().items():
            network.save(stage / f"{name}.keras")  # usable on its own, e.g. --classifier-weights
        metrics = _final_metrics(
            model, data, history, fit_seconds, data_seconds, len(x_train), config
        )
        means = _write_latent_and_figures(model, data, x_train, y_train, history, stage, seed)
        write_json_atomic(
            stage / "latent.json",
            {"digit_means": [None if np.isnan(m).any() else m.tolist() for m in means]},
        )
        write_json_atomic(stage / "metrics.json", metrics)
        write_json_atomic(
            stage / "config.json",
            {
                "mnist_vae_run": RUN_FORMAT,
                **config.to_dict(),
                "data": {
                    "source": data.source,
                    "canonical_mnist": data.canonical,
                    "train_images": len(x_train),
                    "test_images": len(data.x_test),
                },
                "versions": package_versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "command": command or " ".join(sys.argv),
            },
        )
    return load_run(out)


class Fitter:
    """The training loop of ``train``: compiled model, input pipelines and ``fit`` call.

    Kept apart so that benchmarks time exactly what ``mnist-vae train`` runs. The
    networks compute in the resolved precision during ``fit`` only (see
    ``mnist_vae.precision``); between calls the model is float32 again.
    """

    def __init__(
        self,
        model,
        config: RunConfig,
        x_train,
        y_train,
        x_test,
        y_test,
        *,
        steps_per_execution: int | None = None,
    ) -> None:
        from mnist_vae.build import build_optimizer
        from mnist_vae.precision import resolve_precision

        self.model = model
        self.config = config
        self.precision = resolve_precision(config.train.precision)
        batch_size = config.train.batch_size
        self.steps_per_epoch = math.ceil(len(x_train) / batch_size)
        if steps_per_execution is None:
            import tensorflow as tf

            # Keras's multi-step loop fails under tf.distribute (a placeholder is never
            # fed), so distributed training runs one step per call.
            distributed = tf.distribute.has_strategy()
            steps_per_execution = (
                1 if distributed else min(self.steps_per_epoch, STEPS_PER_EXECUTION)
            )
        model.compile(
            optimizer=build_optimizer(config.train, self.steps_per_epoch),
            steps_per_execution=steps_per_execution,
        )
        seed = config.train.seed
        self.train_ds = make_dataset(x_train, y_train, batch_size, shuffle=True, seed=seed)
        # Per-epoch monitoring on a fixed stratified fifth of the test set; the run's
        # test metrics are computed on all of it after training.
        watched = select_training_set(x_test, y_test, min(len(x_test), VALIDATION_IMAGES), 0)
        self.test_ds = make_dataset(x_test[watched], y_test[watched], 1000)

    def fit(self, epochs: int, callbacks: list | None = None) -> dict:
        """Train for ``epochs`` more epochs, validating on the test set; returns the history."""
        from mnist_vae.callbacks import StopOnNonFinite
        from mnist_vae.precision import set_network_precision

        set_network_precision(self.model, self.precision)
        try:
            return self.model.fit(
                self.train_ds,
                epochs=epochs,
                validation_data=self.test_ds,
                callbacks=[*(callbacks or []), StopOnNonFinite(), *self.model.training_callbacks()],
                shuffle=False,
                verbose=0,  # the pipeline reshuffles every epoch itself
            ).history
        finally:
            set_network_precision(self.model, "float32")
            # Evaluation after training must not reuse the functions traced for fit.
            self.model.test_function = self.model.predict_function = None


def _check_finite(history: dict, model, config: RunConfig) -> None:
    """Divergence shows in the training or test loss, or only in the weights after one step."""
    epochs = len(history.get("loss", []))
    curves = [history.get(name, []) for name in ("loss", "val_loss")]
    finite = epochs > 0 and all(math.isfinite(v) for curve in curves for v in curve)
    finite = finite and all(np.isfinite(w).all() for w in model.get_weights())
    if not finite:
        raise RunError(
            f"training diverged (losses or weights were not finite by epoch {epochs}); "
            f"try a lower --lr than {config.train.learning_rate:g}; nothing was written"
        )


def _final_metrics(model, data, history, fit_seconds, data_seconds, train_images, config) -> dict:
    from mnist_vae.evaluation import evaluate_elbo

    test = evaluate_elbo(model, data.x_test, data.y_test)
    return {
        "test": {
            "negative_elbo": test["loss"],
            "reconstruction": test["reconstruction"],
            "kl": test["kl"],
        },
        "train_final_epoch": {name: history[name][-1] for name in ("loss", "reconstruction", "kl")},
        "units": "nats per image; negative_elbo = reconstruction + kl (one sample of z per image)",
        "likelihood": config.model.likelihood,
        "epochs": len(history["loss"]),
        "train_images": train_images,
        "train_seconds": round(fit_seconds, 2),
        "train_images_per_second": round(train_images * len(history["loss"]) / fit_seconds, 1),
        "data_seconds": round(data_seconds, 2),
    }


def _write_latent_and_figures(
    model, data, x_train, y_train, history, stage: Path, seed: int
) -> np.ndarray:
    from mnist_vae import figures
    from mnist_vae.evaluation import digit_means, encode_means, reconstruct
    from mnist_vae.sampling import decode_codes, latent_draws, sample_digits

    means = digit_means(encode_means(model, x_train, y_train), y_train)
    test_codes = encode_means(model, data.x_test, data.y_test)
    folder = stage / "figures"
    folder.mkdir()
    projection = figures.save_latent_scatter(
        test_codes, data.y_test, digit_means(test_codes, data.y_test), folder / "latent.png"
    )
    figures.save_reconstructions(
        data.x_test[:48] / 255.0,
        reconstruct(model, data.x_test[:48], data.y_test[:48]),
        folder / "reconstructions.png",
    )
    title = "samples from N(0, I)" + (", digits 0-9 by column" if model.conditional else "")
    figures.save_image_grid(sample_digits(model, 100, seed), folder / "samples.png", title=title)
    if model.conditional:
        styles = np.repeat(latent_draws(10, model.latent_dim, seed + 1), 10, axis=0)
        figures.save_image_grid(
            decode_codes(model, styles, np.tile(np.arange(10), 10)),
            folder / "digits_by_style.png",
            title="each row one z ~ N(0, I), decoded as digits 0-9",
        )
    elif model.latent_dim == 2:
        size = 20
        codes = figures.latent_grid_codes(test_codes, size)
        extent = (codes[:, 0].min(), codes[:, 0].max(), codes[:, 1].min(), codes[:, 1].max())
        figures.save_latent_grid(
            decode_codes(model, codes), size, extent, folder / "latent_grid.png"
        )
    figures.save_loss_curves(history, folder / "loss.png")
    write_json_atomic(stage / "figures" / "figures.json", {"latent_projection": projection})
    return means
