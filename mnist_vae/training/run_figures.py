"""What a new run shows: its codes, reconstructions, samples and curves, as PNGs.

Everything is asked of the model through the generative-model protocol, so any
registered strategy gets the figures; ``mnist_vae.runs.figures`` draws the arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_vae.config import NUM_CLASSES
from mnist_vae.data import to_float_images
from mnist_vae.data.classes import DIGITS
from mnist_vae.io import write_json_atomic
from mnist_vae.models.inference import class_means, encode_codes, reconstruct
from mnist_vae.models.sampling import decode_batched, prior_codes, sample_digits

GRID_SIZE = 20
TRAVERSED_DIMENSIONS = 10  # rows of traversals.png: the most active dimensions
TRAVERSAL_STEPS = 9
INTERPOLATION_PAIRS = 8
INTERPOLATION_STEPS = 8


def interpolation_pairs(labels: np.ndarray, pairs: int = INTERPOLATION_PAIRS):
    """Test-image index pairs (A, B) of different classes: A the first image of class i,
    B the second of class i + 3 (mod 10), for the first ``pairs`` classes present."""
    starts, ends = [], []
    present = sorted(set(labels.tolist()))
    for index, label in enumerate(present):
        other = present[(index + 3) % len(present)]
        a, b = np.flatnonzero(labels == label), np.flatnonzero(labels == other)
        if len(a) and len(b):
            starts.append(a[0])
            ends.append(b[min(1, len(b) - 1)])
        if len(starts) == pairs:
            break
    return np.array(starts), np.array(ends)


def training_class_means(model, x_train, y_train) -> np.ndarray:
    """Each class's mean code over the training images (what ``sample --digit`` starts from)."""
    labels = y_train.astype("int32") if model.conditional else None
    # (under dynamic binarization x_train holds grey levels: their codes are the means of
    # the binary draws' codes to first order, which is what sampling around a mean needs)
    return class_means(encode_codes(model, to_float_images(x_train), labels), y_train)


def write_run_figures(
    model, data, x_train, y_train, history, folder: Path, seed: int
) -> np.ndarray:
    """Draw the run's figures into ``folder/figures``; returns each class's mean code."""
    from mnist_vae.runs import figures

    conditional = bool(model.conditional)
    test_labels = data.y_test.astype("int32") if conditional else None
    x_test = to_float_images(data.x_test)
    means = training_class_means(model, x_train, y_train)
    test_codes = encode_codes(model, x_test, test_labels)
    out = Path(folder) / "figures"
    out.mkdir(exist_ok=True)  # drawn again by a run resumed after a kill while drawing
    names, what = list(data.class_names), data.class_noun
    projection = figures.save_latent_scatter(
        test_codes,
        data.y_test,
        class_means(test_codes, data.y_test),
        out / "latent.png",
        class_names=names,
        what=what,
    )
    shown = slice(0, 48)
    figures.save_reconstructions(
        x_test[shown][..., 0],
        reconstruct(model, x_test[shown], None if test_labels is None else test_labels[shown]),
        out / "reconstructions.png",
    )
    # Conditional models draw the classes in turn, one per column: name the columns
    # when the names are more than the labels 0-9 the titles give.
    columns = names if conditional and tuple(names) != DIGITS else None
    title = "samples from the prior" + (", classes 0-9 by column" if conditional else "")
    figures.save_image_grid(
        sample_digits(model, 100, seed), out / "samples.png", title=title, column_labels=columns
    )
    if conditional:
        styles = np.repeat(prior_codes(model, NUM_CLASSES, seed + 1), NUM_CLASSES, axis=0)
        figures.save_image_grid(
            decode_batched(model, styles, np.tile(np.arange(NUM_CLASSES), NUM_CLASSES)),
            out / "digits_by_style.png",
            title="each row one z from the prior, decoded as classes 0-9",
            column_labels=columns,
        )
    else:
        _code_space_figures(model, test_codes, x_test, data.y_test, out)
    figures.save_loss_curves(history, out / "loss.png")
    write_json_atomic(out / "figures.json", {"latent_projection": projection})
    return means


def _code_space_figures(
    model, test_codes: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, out: Path
) -> None:
    """An unconditional model's walks through its code space: the decoded 2-D grid (a
    latent of 2), sweeps of the most active dimensions, and interpolations."""
    from mnist_vae.runs import figures

    if tuple(model.latent_shape) == (2,):
        codes = figures.latent_grid_codes(test_codes, GRID_SIZE)
        extent = (codes[:, 0].min(), codes[:, 0].max(), codes[:, 1].min(), codes[:, 1].max())
        figures.save_latent_grid(
            decode_batched(model, codes), GRID_SIZE, extent, out / "latent_grid.png"
        )
    dimensions = figures.most_active_dimensions(test_codes, TRAVERSED_DIMENSIONS)
    codes = figures.latent_traversal_codes(test_codes[0], test_codes, dimensions, TRAVERSAL_STEPS)
    figures.save_latent_traversals(
        decode_batched(model, codes),
        dimensions,
        TRAVERSAL_STEPS,
        out / "traversals.png",
        title="the first test image's code, one dimension swept per row (most active first)",
    )
    starts, ends = interpolation_pairs(y_test)
    figures.save_interpolations(
        x_test[starts][..., 0],
        decode_batched(
            model,
            figures.interpolation_codes(test_codes[starts], test_codes[ends], INTERPOLATION_STEPS),
        ),
        x_test[ends][..., 0],
        out / "interpolations.png",
    )
