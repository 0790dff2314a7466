"""Fit latent samplers to a run's training codes, keep them with the run, draw with them.

The codes are ``model.encode`` (the posterior means) of exactly the training images
the run was trained on: the same binarization and the same seeded subset. A fitted
sampler is saved under ``RUN/samplers/NAME`` (``mnist_vae.runs.Run.save_sampler``) and
reused after, by ``mnist-vae sample --sampler``, ``evaluate --sampler`` and ``export``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from mnist_vae.data import MnistData, binarized, load_recorded, select_training_set, to_float_images
from mnist_vae.errors import UsageError
from mnist_vae.models.latent_samplers import PRIOR, display_name, sampler_key
from mnist_vae.runs import Run

Reporter = Callable[[str], None]


def training_codes(
    run: Run, model, data: MnistData | None = None, report: Reporter = print
) -> np.ndarray:
    """(N, code size) posterior means of the run's own training images."""
    from mnist_vae.models.inference import encode_codes

    train = run.config.train
    data = data or load_recorded(
        train.data, run.record.get("data"), owner=str(run.path), report=report
    )
    images = binarized(data.x_train) if train.binarize == "threshold" else data.x_train
    chosen = select_training_set(images, data.y_train, train.train_size, train.seed)
    return encode_codes(model, to_float_images(images[chosen]))


def fit_sampler(
    run: Run,
    name: str,
    *,
    seed: int | None = None,
    model=None,
    data: MnistData | None = None,
    save: bool = True,
    report: Reporter = print,
    **options,
):
    """Fit the latent sampler ``name`` to ``run``'s training codes; saved with the run.

    ``seed`` defaults to the run's training seed; ``options`` go to the sampler's
    class (``components=`` for ``gmm``, ``epochs=`` for ``second-stage``, ...). A
    saved sampler of the same name is replaced once the new one is complete.
    """
    from mnist_vae.models.sampling import check_sampler_use
    from mnist_vae.registry import samplers

    key = sampler_key(name)
    if key == PRIOR:
        raise UsageError("the prior is the model's own and needs no fitting")
    try:
        sampler = samplers.get(key)(**options)  # bad options fail before any work
    except TypeError as exc:
        raise UsageError(f"bad options for the {display_name(key)} sampler: {exc}") from None
    model = model if model is not None else run.load_model()
    check_sampler_use(model)
    seed = run.config.train.seed if seed is None else int(seed)
    codes = training_codes(run, model, data, report)
    report(
        f"fitting the {display_name(key)} sampler to {len(codes)} training codes "
        f"of {run.path} (seed {seed}) ..."
    )
    started = time.perf_counter()
    sampler.fit(codes, seed=seed)
    sampler.fit_info["fit_seconds"] = round(time.perf_counter() - started, 1)
    if save:
        folder = run.save_sampler(key, sampler, overwrite=True)
        report(f"saved {folder} [{sampler.fit_info['fit_seconds']:.1f} s]")
    return sampler


def run_sampler(
    run: Run,
    name: str,
    *,
    model=None,
    data: MnistData | None = None,
    refit: bool = False,
    seed: int | None = None,
    report: Reporter = print,
):
    """The run's saved sampler ``name``, fitted and saved first if missing (or ``refit``).

    ``prior`` gives None: the model's own prior needs no sampler.
    """
    key = sampler_key(name)
    if key == PRIOR:
        if refit:
            raise UsageError("--refit applies to fitted samplers, not to the prior")
        return None
    if not refit and key in run.fitted_samplers():
        record = run.sampler_record(key)
        report(
            f"using the {display_name(key)} sampler in {run.sampler_path(key)} "
            f"(fitted {record.get('created', '?')})"
        )
        return run.load_sampler(key)
    return fit_sampler(run, key, seed=seed, model=model, data=data, report=report)


def sample_run(
    run: Run,
    count: int = 100,
    seed: int = 0,
    *,
    sampler: str = PRIOR,
    model=None,
    refit: bool = False,
    report: Reporter = print,
) -> np.ndarray:
    """``count`` images (float (N, 28, 28) in [0, 1]) from the prior or a fitted sampler."""
    from mnist_vae.models.sampling import sample_digits

    model = model if model is not None else run.load_model()
    fitted = run_sampler(run, sampler, model=model, refit=refit, report=report)
    return sample_digits(model, count, seed, sampler=fitted)
