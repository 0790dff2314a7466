"""``mnist-vae sample``: a PNG grid (and optionally .npy) of digits from a run."""

from __future__ import annotations

from pathlib import Path

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, overwrite_option, seed_option

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
    "--count", type=click.IntRange(min=1, max=100_000), default=100, help="How many digits."
)
@click.option(
    "--digit",
    type=click.IntRange(0, 9),
    default=None,
    help="Draw this digit: around its mean code (the report's labelled synthesis), or "
    "from p(x | z, y=digit) for a conditional (cvae) model.",
)
@click.option(
    "--noise-variance",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    help="With --digit on unconditional models: z = mean_z(digit) + N(0, variance * I).",
)
@click.option(
    "--sampler",
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
    "digitD-sSEED.png; for --saved-model, NAME-prior-sSEED.png (or NAME-SAMPLER-...) here]",
)
@click.option(
    "--npy",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also save the images as a float32 (N, 28, 28) .npy array.",
)
@click.option("--cols", type=click.IntRange(min=1, max=100), default=10, help="Images per row.")
@overwrite_option
@debug_option
@handle_errors
def sample(run, saved_model, count, digit, noise_variance, sampler, refit, seed, out, npy, cols,
           overwrite) -> None:  # fmt: skip
    """Draw digits from the run RUN (or an export): from the prior, a fitted latent sampler
    (--sampler) or around one chosen digit."""
    from mnist_vae.errors import UsageError
    from mnist_vae.io import check_output_file, check_writable_dir

    if (run is None) == (saved_model is None):
        raise UsageError("give either a RUN directory or --saved-model DIR")
    key = sampler.strip().replace("-", "_")
    if key != "prior":
        from mnist_vae.models.latent_samplers import refuse_digit

        refuse_digit(digit)
    if refit and saved_model is not None:
        raise UsageError("--refit needs a RUN: an export carries the samplers it was made with")
    if refit and key == "prior":
        raise UsageError("--refit applies to fitted samplers, not to the prior")
    if saved_model is None:
        from mnist_vae.models.latent_samplers import sampler_key

        key = sampler_key(sampler)  # an unknown name fails here, before any work
    stem = key.replace("_", "-") if digit is None else f"digit{digit}"
    if saved_model is not None:
        from mnist_vae.export import ExportedModel

        source = ExportedModel(saved_model)
        out = out or f"{source.path.name}-{stem}-s{seed}.png"
    else:
        from mnist_vae.runs import load_run

        loaded = load_run(run)
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
                f"the digits go to {loaded.path / 'samples'} unless you give --out",
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
    from mnist_vae.runs.figures import save_image_grid

    if saved_model is not None:
        images = source.sample(count, seed, digit=digit, noise_variance=noise_variance,
                               sampler=key)  # fmt: skip
        conditional = source.conditional
    else:
        from mnist_vae.models.sampling import check_sampler_use, sample_digits
        from mnist_vae.training.latent_samplers import run_sampler

        model = loaded.load_model()
        conditional = model.conditional
        if key != "prior":
            check_sampler_use(model, digit)  # before any fitting
        fitted = run_sampler(loaded, key, model=model, refit=refit,
                             report=lambda message: click.echo(message, err=True))  # fmt: skip
        images = sample_digits(
            model, count, seed, digit=digit, digit_means=loaded.digit_means(),
            noise_variance=noise_variance, sampler=fitted,
        )  # fmt: skip
    title = _title(digit, conditional, noise_variance)
    if key != "prior":
        title = f"samples from the {key.replace('_', '-')} sampler"
    # Without --overwrite a file another process wrote meanwhile is never replaced.
    with staged_file(out, replace=overwrite) as staging:
        save_image_grid(images, staging, cols=cols, title=title)
    click.echo(f"wrote {out}")
    if npy_path is not None:
        write_npy_atomic(npy_path, images.astype("float32"), replace=overwrite)
        click.echo(f"wrote {npy_path}")


def _title(digit: int | None, conditional: bool, noise_variance: float) -> str:
    if digit is None:
        return "samples from the prior" + (", classes 0-9 in turn" if conditional else "")
    if conditional:
        return f"class {digit} from p(x | z, y={digit}), z from the prior"
    return f"digit {digit}: mean code + N(0, {noise_variance:g} I)"
