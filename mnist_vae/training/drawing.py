"""``mnist-vae sample`` as one call: a request in, a PNG grid (and an .npy array) out.

A run directory, ``pretrained:NAME`` and an export take the same path: each is loaded
as a ``GenerativeModel`` (a run's Keras model, or ``ExportedModel``) with its class
means and its latent samplers, and the images are drawn from it by ``sample_digits``.
Only loading differs, and where the default output goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae.config import DIGIT_NOISE_VARIANCE, PRIOR
from mnist_vae.declarations import option, overwrite_setting, seed_setting
from mnist_vae.errors import UsageError

# What the grid can be saved as (matplotlib chooses the format by the suffix).
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class SampleRequest:
    """What to draw, from where, and where to write it: ``mnist-vae sample``'s argument and
    flags, each declared here once (the command's are made from these fields).

    Give ``run`` (a run directory or ``pretrained:NAME``) or ``saved_model`` (an export).
    ``class_`` is a label 0-9 or a class name of the run's data; ``digit`` is its older
    form, a label. ``out`` left out is ``RUN/samples/STEM-sSEED.png``, or for an export
    ``NAME-STEM-sSEED.png`` in the current folder.
    """

    run: str | None = option(None, "The run to draw from.", path="folder", argument=True)
    saved_model: str | None = option(
        None,
        "Sample from an export (mnist-vae export) instead of a run, using TensorFlow only. "
        "A SavedModel is a program: open only exports you made or trust (docs/export.md).",
        path="folder",
    )
    count: int = option(100, "How many images.", minimum=1, maximum=100_000)
    class_: str | int | None = option(
        None,
        "Draw this class, given by its label 0-9 or its name in the run's data (e.g. 3, or "
        "sneaker for Fashion-MNIST): around its mean code (the report's labelled synthesis), or "
        "from p(x | z, y=class) for a conditional (cvae) model.",
        metavar="CLASS",
        flag="class",
    )
    digit: int | None = option(
        None, "The same as --class with a label 0-9 (its older name).", minimum=0, maximum=9
    )
    noise_variance: float = option(
        DIGIT_NOISE_VARIANCE,
        "With --class on unconditional models: z = mean_z(class) + N(0, variance * I).",
        minimum=0,
        exclusive_minimum=True,
    )
    sampler: str = option(
        PRIOR,
        "Where the codes come from: prior (the model's own), gmm (a Gaussian mixture "
        "fitted to the training codes) or second-stage (a second VAE on the codes), or a "
        "plugin's. A sampler is fitted on first use and saved in RUN/samplers/.",
        registry="samplers",
    )
    refit: bool = option(
        False, "Fit the --sampler again and replace the saved one (a RUN only).", switch=True
    )
    seed: int = seed_setting("Random seed for the latent draws.")
    out: str | None = option(
        None,
        "PNG to write. [default: RUN/samples/prior-sSEED.png, SAMPLER-sSEED.png or "
        "digitD-sSEED.png (classC-sSEED.png for --class on data that is not digits); for "
        "--saved-model, NAME-prior-sSEED.png (or NAME-SAMPLER-...) here]",
        path="file",
    )
    npy: str | None = option(
        None, "Also save the images as a float32 (N, 28, 28) .npy array.", path="file"
    )
    cols: int = option(10, "Images per row.", minimum=1, maximum=100)
    overwrite: bool = overwrite_setting()


@dataclass(frozen=True)
class SampleResult:
    """The images drawn (float (N, 28, 28) in [0, 1]) and the files written."""

    images: np.ndarray
    out: Path
    npy: Path | None


@dataclass
class _Source:
    """A run or an export, loaded: all that drawing asks of where the model came from."""

    record: dict
    name: str  # the export folder's name; "" for a run
    load_model: Callable[[], Any]
    digit_means: Callable[[], np.ndarray]
    latent_sampler: Callable[[str, Any, Reporter], Any]  # (key, model, report) -> sampler
    run: Any = None  # the Run, to check and write in


def draw_samples(request: SampleRequest, *, report: Reporter = print) -> SampleResult:
    """Draw ``request.count`` images and write their grid (and ``request.npy``).

    One call from Python does what ``mnist-vae sample`` does, from a run, a shipped
    model or an export alike::

        from mnist_vae.training import SampleRequest, draw_samples

        draw_samples(SampleRequest(run="runs/net1", digit=3, npy="threes.npy"))
        draw_samples(SampleRequest(run="pretrained:NAME", sampler="gmm", seed=1))
        draw_samples(SampleRequest(saved_model="exports/net1", count=16, out="x.png"))

    Every usage error (``UsageError``) is raised before the model is loaded; a
    latent sampler a run lacks is fitted and saved with it first. ``report`` gets
    notes about samplers (fitted, or which is used). Files are written whole or
    not at all, and an existing one is replaced only with ``overwrite``.
    """
    key, option, wanted = _check_request(request)
    source = _open(request, key)
    from mnist_vae.data.classes import class_index
    from mnist_vae.runs.format import recorded_class_names, recorded_digits

    names, digits = recorded_class_names(source.record), recorded_digits(source.record)
    index = None if wanted is None else class_index(wanted, names, option)
    # --digit names its files as it always did; --class says digit only of digits.
    word = "digit" if digits or option == "--digit" else "class"
    stem = key.replace("_", "-") if index is None else f"{word}{index}"
    out, npy = _output_files(request, source, key, stem)
    images, conditional = _draw(request, source, key, index, report)
    title = grid_title(
        index, names, "digit" if digits else "class", conditional, request.noise_variance, key
    )
    _write(
        request, images, out, npy, title, _column_labels(request, names, conditional, index, key)
    )
    return SampleResult(images, out, npy)


def _check_request(request: SampleRequest) -> tuple[str, str, Any]:
    """The usage rules that need nothing loaded: (sampler key, class option, its value)."""
    if (request.run is None) == (request.saved_model is None):
        raise UsageError("give either a RUN directory or --saved-model DIR")
    if request.class_ is not None and request.digit is not None:
        raise UsageError("--digit is the older name of --class: give one of them")
    option, wanted = (
        ("--digit", request.digit) if request.digit is not None else ("--class", request.class_)
    )
    key = request.sampler.strip().replace("-", "_")
    if key != PRIOR and wanted is not None:
        raise UsageError(
            f"--sampler and {option} do not combine: a sampler draws from all "
            f"training codes, {option} around one class's mean code"
        )
    if request.refit and request.saved_model is not None:
        raise UsageError("--refit needs a RUN: an export carries the samplers it was made with")
    if request.refit and key == PRIOR:
        raise UsageError("--refit applies to fitted samplers, not to the prior")
    if request.saved_model is None:
        from mnist_vae.models.latent_samplers import sampler_key

        key = sampler_key(request.sampler)  # an unknown name fails here, before any work
    return key, option, wanted


def _open(request: SampleRequest, key: str) -> _Source:
    """The run (or ``pretrained:NAME``) or the export, as a ``_Source``."""
    if request.saved_model is not None:
        from mnist_vae.export.reader import ExportedModel

        exported = ExportedModel(request.saved_model)
        return _Source(
            exported.record,
            exported.path.name,
            lambda: exported,
            lambda: exported.digit_means,
            lambda name, model, report: exported.load_sampler(name),
        )
    from mnist_vae.runs import load_run

    run = load_run(request.run)

    def latent_sampler(name: str, model: Any, report: Reporter) -> Any:
        from mnist_vae.training.sampler_fitting import run_sampler

        return run_sampler(run, name, model=model, refit=request.refit, report=report)

    return _Source(run.record, "", run.load_model, run.digit_means, latent_sampler, run)


def _output_files(
    request: SampleRequest, source: _Source, key: str, stem: str
) -> tuple[Path, Path | None]:
    """``--out`` and ``--npy``, checked (free, writable, an image suffix) before any work."""
    from mnist_vae.io import check_output_file, check_writable_dir

    out, run = request.out, source.run
    if run is None:
        out = f"{source.name}-{stem}-s{request.seed}.png" if out is None else out
    else:
        if key != PRIOR and (request.refit or key not in run.fitted_samplers()):
            check_writable_dir(
                run.path / "samplers",
                f"the {key.replace('_', '-')} sampler is fitted and saved in "
                f"{run.path / 'samplers'} first; make the run writable, or copy it",
                create=True,
            )  # before loading the model and fitting
        if out is None:
            check_writable_dir(
                run.path / "samples",
                f"the images go to {run.path / 'samples'} unless you give --out",
                create=True,
            )
            (run.path / "samples").mkdir(exist_ok=True)
            out = run.path / "samples" / f"{stem}-s{request.seed}.png"
    out = check_output_file(Path(out), overwrite=request.overwrite)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(
            f"--out {out}: an image file is needed, ending in {', '.join(IMAGE_SUFFIXES)}"
        )
    if request.npy is None:
        return out, None
    if not str(request.npy).strip():
        raise UsageError("--npy is empty; give the array's file name, ending in .npy")
    npy = Path(request.npy).expanduser()
    if npy.resolve() == out.resolve():
        raise UsageError(f"--out and --npy are both {out}; give the array its own file")
    if npy.suffix.lower() != ".npy":  # never a run's own file by a slip of the keyboard
        raise UsageError(f"--npy {npy}: the array's file must end in .npy")
    return out, check_output_file(npy, overwrite=request.overwrite)


def _draw(
    request: SampleRequest, source: _Source, key: str, index: int | None, report: Reporter
) -> tuple[np.ndarray, bool]:
    """The images, and whether the model is conditional: the same for a run and an export."""
    from mnist_vae.models.sampling import DECODE_BATCH, check_sampler_use, sample_digits
    from mnist_vae.progress import task

    model = source.load_model()
    fitted = None
    if key != PRIOR:
        check_sampler_use(model, index)  # before any fitting
        fitted = source.latent_sampler(key, model, report)
    count = request.count
    with task(
        f"decoding {count:,} images", total=count, unit="images", show=count > DECODE_BATCH
    ) as decoded:
        images = sample_digits(
            model,
            count,
            request.seed,
            digit=index,
            digit_means=source.digit_means(),
            noise_variance=request.noise_variance,
            sampler=fitted,
            on_batch=decoded,
        )
    return images, bool(model.conditional)


def _column_labels(
    request: SampleRequest, names: tuple[str, ...], conditional: bool, index: int | None, key: str
) -> list[str] | None:
    """A conditional model's prior draws take the classes in turn: with ten columns, one
    class per column, named when the names say more than the labels."""
    from mnist_vae.runs.format import DIGIT_NAMES

    if (
        conditional
        and index is None
        and key == PRIOR
        and request.cols == len(names)
        and names != DIGIT_NAMES
    ):
        return list(names)
    return None


def _write(
    request: SampleRequest,
    images: np.ndarray,
    out: Path,
    npy: Path | None,
    title: str,
    columns: list[str] | None,
) -> None:
    """The grid, then the array, each whole or not at all."""
    from mnist_vae.io import staged_file, write_npy_atomic
    from mnist_vae.models.sampling import DECODE_BATCH
    from mnist_vae.progress import task
    from mnist_vae.runs.figures import save_image_grid

    count = len(images)
    # Without overwrite a file another process wrote meanwhile is never replaced.
    with (
        staged_file(out, replace=request.overwrite) as staging,
        task(f"drawing the grid of {count:,} images", show=count > DECODE_BATCH),
    ):
        save_image_grid(images, staging, cols=request.cols, title=title, column_labels=columns)
    if npy is not None:
        write_npy_atomic(npy, images.astype("float32"), replace=request.overwrite)


def grid_title(
    index: int | None,
    names: tuple[str, ...],
    noun: str,
    conditional: bool,
    noise_variance: float,
    sampler: str = PRIOR,
) -> str:
    """The grid's title: ``digit 3: ...`` for MNIST, ``class 7 (Sneaker): ...`` otherwise."""
    from mnist_vae.data.classes import display

    if sampler != PRIOR:
        return f"samples from the {sampler.replace('_', '-')} sampler"
    if index is None:
        return "samples from the prior" + (", classes 0-9 in turn" if conditional else "")
    if conditional:
        return f"class {display(index, names)} from p(x | z, y={index}), z from the prior"
    return f"{noun} {display(index, names)}: mean code + N(0, {noise_variance:g} I)"
