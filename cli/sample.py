"""``mnist-vae sample``: a PNG grid (and optionally .npy) of images drawn from a run."""

from __future__ import annotations

from pathlib import Path

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    RegisteredOption,
    debug_option,
    overwrite_option,
    quiet_option,
    seed_option,
)

# What the grid can be saved as (matplotlib chooses the format by the suffix).
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


@click.command(context_settings={"show_default": True})
@click.argument("run", required=False, type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--saved-model",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Sample from an export (mnist-vae export) instead of a run, using TensorFlow only. "
    "A SavedModel is a program: open only exports you made or trust (docs/export.md).",
)
@click.option(
    "--count", type=click.IntRange(min=1, max=100_000), default=100, help="How many images."
)
@click.option(
    "--class",
    "class_",
    metavar="CLASS",
    default=None,
    help="Draw this class, given by its label 0-9 or its name in the run's data (e.g. 3, or "
    "sneaker for Fashion-MNIST): around its mean code (the report's labelled synthesis), or "
    "from p(x | z, y=class) for a conditional (cvae) model.",
)
@click.option(
    "--digit",
    type=click.IntRange(0, 9),
    default=None,
    help="The same as --class with a label 0-9 (its older name).",
)
@click.option(
    "--noise-variance",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    help="With --class on unconditional models: z = mean_z(class) + N(0, variance * I).",
)
@click.option(
    "--sampler",
    cls=RegisteredOption,
    registry="samplers",
    default="prior",
    help="Where the codes come from: prior (the model's own), gmm (a Gaussian mixture "
    "fitted to the training codes) or second-stage (a second VAE on the codes), or a "
    "plugin's. A sampler is fitted on first use and saved in RUN/samplers/.",
)
@click.option(
    "--refit",
    is_flag=True,
    help="Fit the --sampler again and replace the saved one (a RUN only).",
)
@seed_option("Random seed for the latent draws.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="PNG to write. [default: RUN/samples/prior-sSEED.png, SAMPLER-sSEED.png or "
    "digitD-sSEED.png (classC-sSEED.png for --class on data that is not digits); for "
    "--saved-model, "
    "NAME-prior-sSEED.png (or NAME-SAMPLER-...) here]",
)
@click.option(
    "--npy",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also save the images as a float32 (N, 28, 28) .npy array.",
)
@click.option("--cols", type=click.IntRange(min=1, max=100), default=10, help="Images per row.")
@overwrite_option
@quiet_option
@debug_option
@handle_errors
def sample(run, saved_model, count, class_, digit, noise_variance, sampler, refit, seed, out,
           npy, cols, overwrite, quiet) -> None:  # fmt: skip
    """Draw images from the run RUN (or an export): from the prior, a fitted latent sampler
    (--sampler) or around one chosen class (--class, by label or name)."""
    from mnist_vae.errors import UsageError
    from mnist_vae.io import check_output_file, check_writable_dir

    if (run is None) == (saved_model is None):
        raise UsageError("give either a RUN directory or --saved-model DIR")
    if class_ is not None and digit is not None:
        raise UsageError("--digit is the older name of --class: give one of them")
    option, wanted = ("--digit", digit) if digit is not None else ("--class", class_)
    key = sampler.strip().replace("-", "_")
    if key != "prior" and wanted is not None:
        raise UsageError(f"--sampler and {option} do not combine: a sampler draws from all "
                         f"training codes, {option} around one class's mean code")  # fmt: skip
    if refit and saved_model is not None:
        raise UsageError("--refit needs a RUN: an export carries the samplers it was made with")
    if refit and key == "prior":
        raise UsageError("--refit applies to fitted samplers, not to the prior")
    if saved_model is None:
        from mnist_vae.models.latent_samplers import sampler_key

        key = sampler_key(sampler)  # an unknown name fails here, before any work
    from mnist_vae.data.classes import class_index
    from mnist_vae.runs.format import recorded_class_names, recorded_digits

    if saved_model is not None:
        from mnist_vae.export import ExportedModel

        source = ExportedModel(saved_model)
        record = source.record
    else:
        from mnist_vae.runs import load_run

        loaded = load_run(run)
        record = loaded.record
    names, digits = recorded_class_names(record), recorded_digits(record)
    index = None if wanted is None else class_index(wanted, names, option)
    # --digit names its files as it always did; --class says digit only of digits.
    word = "digit" if digits or option == "--digit" else "class"
    stem = key.replace("_", "-") if index is None else f"{word}{index}"
    if saved_model is not None:
        out = out or f"{source.path.name}-{stem}-s{seed}.png"
    else:
        if key != "prior" and (refit or key not in loaded.fitted_samplers()):
            check_writable_dir(
                loaded.path / "samplers",
                f"the {key.replace('_', '-')} sampler is fitted and saved in "
                f"{loaded.path / 'samplers'} first; make the run writable, or copy it",
                create=True,
            )  # before loading the model and fitting
        if out is None:
            check_writable_dir(
                loaded.path / "samples",
                f"the images go to {loaded.path / 'samples'} unless you give --out",
                create=True,
            )
            (loaded.path / "samples").mkdir(exist_ok=True)
            out = loaded.path / "samples" / f"{stem}-s{seed}.png"
    out = check_output_file(Path(out), overwrite=overwrite)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"--out {out}: an image file is needed, ending in "
                         f"{', '.join(IMAGE_SUFFIXES)}")  # fmt: skip
    npy_path = check_output_file(Path(npy), overwrite=overwrite) if npy else None
    if npy_path is not None and npy_path.resolve() == out.resolve():
        raise UsageError(f"--out and --npy are both {out}; give the array its own file")

    from mnist_vae.io import staged_file, write_npy_atomic
    from mnist_vae.models.sampling import DECODE_BATCH
    from mnist_vae.progress import task
    from mnist_vae.runs.figures import save_image_grid

    large = count > DECODE_BATCH  # progress for requests of several batches

    if saved_model is not None:
        images = source.sample(count, seed, digit=index, noise_variance=noise_variance,
                               sampler=key)  # fmt: skip
        conditional = source.conditional
    else:
        from mnist_vae.models.sampling import check_sampler_use, sample_digits
        from mnist_vae.training.sampler_fitting import run_sampler

        model = loaded.load_model()
        conditional = model.conditional
        if key != "prior":
            check_sampler_use(model, index)  # before any fitting
        fitted = run_sampler(loaded, key, model=model, refit=refit,
                             report=lambda message: click.echo(message, err=True))  # fmt: skip
        with task(f"decoding {count:,} images", total=count, unit="images",
                  show=large) as decoded:  # fmt: skip
            images = sample_digits(
                model, count, seed, digit=index, digit_means=loaded.digit_means(),
                noise_variance=noise_variance, sampler=fitted, on_batch=decoded,
            )  # fmt: skip
    title = _title(index, names, "digit" if digits else "class", conditional, noise_variance)
    if key != "prior":
        title = f"samples from the {key.replace('_', '-')} sampler"
    # A conditional model's prior draws take the classes in turn: with ten columns, one
    # class per column, named when the names say more than the labels.
    from mnist_vae.runs.format import DIGIT_NAMES

    columns = list(names) if conditional and index is None and key == "prior" \
        and cols == len(names) and names != DIGIT_NAMES else None  # fmt: skip
    # Without --overwrite a file another process wrote meanwhile is never replaced.
    with staged_file(out, replace=overwrite) as staging, \
            task(f"drawing the grid of {count:,} images", show=large):  # fmt: skip
        save_image_grid(images, staging, cols=cols, title=title, column_labels=columns)
    click.echo(f"wrote {out}")
    if npy_path is not None:
        write_npy_atomic(npy_path, images.astype("float32"), replace=overwrite)
        click.echo(f"wrote {npy_path}")


def _title(index: int | None, names: tuple[str, ...], noun: str, conditional: bool,
           noise_variance: float) -> str:  # fmt: skip
    """The grid's title: ``digit 3: ...`` for MNIST, ``class 7 (Sneaker): ...`` otherwise."""
    from mnist_vae.data.classes import display

    if index is None:
        return "samples from the prior" + (", classes 0-9 in turn" if conditional else "")
    if conditional:
        return f"class {display(index, names)} from p(x | z, y={index}), z from the prior"
    return f"{noun} {display(index, names)}: mean code + N(0, {noise_variance:g} I)"
