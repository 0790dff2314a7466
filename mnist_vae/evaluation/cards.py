"""A shipped model's card: how it was made, what it scores, and a score any machine re-checks.

The check score is the IWAE bound (K = ``CHECK_SAMPLES``, seed ``CHECK_SEED``) on the
first ``CHECK_IMAGES`` test images, binarized as the run was: a few seconds of work
that the test suite repeats for every shipped model against the card, to 1e-3 nats.
The headline ``nll`` is the run's own measurement at K=5000 on all 10,000 images
(``benchmark nll``), given when the card is written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.runs.format import Run

CHECK_IMAGES, CHECK_SAMPLES, CHECK_SEED = 200, 50, 0
CARD_KEYS = (
    "name",
    "strategy",
    "architecture",
    "data",
    "binarize",
    "nll",
    "iw_samples",
    "negative_elbo",
    "paper",
    "command",
    "train_seconds",
)


def weight_files(run: Run) -> list[str]:
    """The run's Keras files (model and extra networks): what a card hashes."""
    return sorted(path.name for path in Path(run.path).glob("*.keras"))


def check_score(run: Run, data=None, model=None) -> float:
    """Mean IWAE bound in nats on the card's check subset (``data``: the run's own MNIST;
    ``model``: the run's model, if it is loaded already)."""
    from mnist_vae.data import binarize_test_set, load_mnist, to_float_images
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood

    data = data if data is not None else load_mnist(run.config.train.data)
    model = model if model is not None else run.load_model()
    images = to_float_images(binarize_test_set(data.x_test, run.config.train.binarize))
    labels = data.y_test.astype("int32") if model.conditional else None
    shown = slice(0, CHECK_IMAGES)
    bounds = iwae_negative_log_likelihood(
        model,
        images[shown],
        None if labels is None else labels[shown],
        samples=CHECK_SAMPLES,
        seed=CHECK_SEED,
    )
    return float(np.mean(bounds))


def required_runs(run: Run) -> list[dict[str, str]]:
    """The runs ``run`` was trained on (M1+M2's M1: a strategy option naming a run
    folder), each as the flag that names it and the command that trained it, which that
    run records: what ``pretrained --reproduce`` trains first. A shipped model
    (``pretrained:NAME``) needs no training, and a file (a classifier's weights) no run."""
    import json
    import shlex

    from mnist_vae.errors import RunError
    from mnist_vae.registry_index import load_index
    from mnist_vae.runs.pretrained import is_pretrained
    from mnist_vae.settings import flag_of

    flags = {spec["name"]: spec for spec in load_index()["strategy_flags"]}
    needs = []
    for name, value in sorted(run.config.model.options.items()):
        if name not in flags or not isinstance(value, str) or is_pretrained(value):
            continue
        record = Path(value) / "config.json"
        if record.is_file():
            command = json.loads(record.read_text()).get("command") or ""
            words = shlex.split(command)
            if (
                words[:2] != ["mnist-vae", "train"]
                or "--out" not in words[:-1]
                or ("--config" in words)
            ):
                raise RunError(
                    f"{value} (the model's {flag_of(flags[name])}) records no command "
                    f"that trains it again ({command!r}); train it with 'mnist-vae train "
                    "... --out FOLDER' (no --config) before shipping a model made on it"
                )
            needs.append({"flag": flag_of(flags[name]), "command": command})
    return needs


def make_card(
    run: Run,
    name: str,
    *,
    nll: float | None = None,
    iw_samples: int | None = None,
    paper: dict | None = None,
    note: str = "",
    data=None,
) -> dict[str, Any]:
    """The card of ``run`` shipped as ``name``; ``nll`` at ``iw_samples`` from ``benchmark nll``."""
    from mnist_vae.io import sha256

    test = run.metrics.get("test", {})
    train = run.config.train
    record = run.record
    images = record.get("data", {}).get("train_images")
    steps = math.ceil(images / train.batch_size) if images else None
    quality = [v for k, v in run.metrics.items() if k.startswith("evaluation")]
    return {
        "name": name,
        "strategy": run.config.model.strategy,
        "architecture": run.config.model.architecture,
        "latent_dim": run.config.model.latent_dim,
        # a second stochastic layer's size (hvae, iwae2, vamp2): the table shows "z1+z2"
        "top_latent_dim": run.config.model.options.get("top_latent_dim"),
        "data": record.get("data", {}).get("source", "MNIST"),
        "data_provenance": record.get("data", {}),
        "binarize": train.binarize,
        "nll": nll,
        "iw_samples": iw_samples,
        "negative_elbo": test.get("negative_elbo"),
        "fd": next((q.get("frechet_distance") for q in quality if "frechet_distance" in q), None),
        "classifier_error": test.get("classifier_error"),
        "paper": paper,
        "command": record.get("command"),
        "requires": required_runs(run),
        "train_seconds": run.metrics.get("train_seconds", test.get("train_seconds")),
        "epochs": train.epochs,
        "batch_size": train.batch_size,
        "updates": steps * train.epochs if steps else None,
        "mnist_vae_version": record.get("versions", {}).get("mnist-vae"),
        "versions": record.get("versions", {}),
        "sha256": {file: sha256(Path(run.path) / file) for file in weight_files(run)},
        "check": {
            "images": CHECK_IMAGES,
            "iw_samples": CHECK_SAMPLES,
            "seed": CHECK_SEED,
            "nll": check_score(run, data),
        },
        "note": note,
    }
