"""``mnist-vae sample``: a PNG grid (and optionally .npy) of digits from a run."""

from __future__ import annotations

from pathlib import Path

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, overwrite_option, run_argument, seed_option


@click.command(context_settings={"show_default": True})
@run_argument
@click.option(
    "--count", type=click.IntRange(min=1, max=100_000), default=100, help="How many digits."
)
@click.option(
    "--digit",
    type=click.IntRange(0, 9),
    default=None,
    help="Draw this digit: around its mean code (the report's labelled synthesis), or "
    "from p(x | z, y=digit) for a conditional (cvae) run.",
)
@click.option(
    "--noise-variance",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    help="With --digit on unconditional runs: z = mean_z(digit) + N(0, variance * I).",
)
@seed_option("Random seed for the latent draws.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="PNG to write. [default: RUN/samples/prior-sSEED.png or digitD-sSEED.png]",
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
def sample(run, count, digit, noise_variance, seed, out, npy, cols, overwrite) -> None:
    """Draw digits from the run RUN's prior, or around one digit's mean code."""
    from mnist_vae.io import check_output_file
    from mnist_vae.run import load_run

    loaded = load_run(run)
    stem = "prior" if digit is None else f"digit{digit}"
    if out is None:
        (loaded.path / "samples").mkdir(exist_ok=True)
        out = loaded.path / "samples" / f"{stem}-s{seed}.png"
    out = check_output_file(Path(out), overwrite=overwrite)
    npy_path = check_output_file(Path(npy), overwrite=overwrite) if npy else None

    from mnist_vae.figures import save_image_grid
    from mnist_vae.io import write_npy_atomic
    from mnist_vae.sampling import sample_digits

    model = loaded.load_model()
    images = sample_digits(
        model,
        count,
        seed,
        digit=digit,
        digit_means=loaded.digit_means(),
        noise_variance=noise_variance,
    )
    if digit is None:
        title = "samples from N(0, I)" + (", digits 0-9 in turn" if model.conditional else "")
    elif model.conditional:
        title = f"digit {digit} from p(x | z, y={digit}), z ~ N(0, I)"
    else:
        title = f"digit {digit}: mean code + N(0, {noise_variance:g} I)"
    save_image_grid(images, out, cols=cols, title=title)
    click.echo(f"wrote {out}")
    if npy_path is not None:
        write_npy_atomic(npy_path, images.astype("float32"))
        click.echo(f"wrote {npy_path}")
