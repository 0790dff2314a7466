"""The run's figures as PNG: latent space, reconstructions, samples, grid, curves.

Drawn with matplotlib's object API (``Figure`` and its axes), never pyplot: the
global backend of a notebook that imports the package stays as it was.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from mnist_vae.io import staged_file

DIGIT_COLOURS = matplotlib.colormaps["tab10"]


def new_figure(width: float, height: float):
    """A figure with one axis, independent of pyplot's state."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def tile(images: np.ndarray, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """Arrange (N, H, W) images in a rows x cols mosaic with white gutters."""
    count, height, width = images.shape
    canvas = np.ones((rows * (height + pad) + pad, cols * (width + pad) + pad), dtype=np.float32)
    for i in range(min(count, rows * cols)):
        r, c = divmod(i, cols)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        canvas[top : top + height, left : left + width] = images[i]
    return canvas


def save_image_grid(images: np.ndarray, path: Path, *, cols: int = 10, title: str = "") -> Path:
    """A grid of digits, dark ink on white as people read them."""
    rows = int(np.ceil(len(images) / cols))
    figure, axis = new_figure(cols * 0.55 + 0.2, rows * 0.55 + (0.5 if title else 0.2))
    axis.imshow(1.0 - tile(np.clip(images, 0, 1), rows, cols), cmap="gray", vmin=0, vmax=1)
    axis.set_axis_off()
    if title:
        axis.set_title(title, fontsize=9)
    return save_figure(figure, path)


def save_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, path: Path) -> Path:
    """Originals above their reconstructions, in alternating rows."""
    cols = 12
    pairs = min(len(originals), 4 * cols)
    rows = []
    for start in range(0, pairs, cols):
        rows.append(originals[start : start + cols])
        rows.append(reconstructions[start : start + cols])
    mosaic = np.concatenate(rows)
    figure, axis = new_figure(cols * 0.6, len(rows) * 0.6 + 0.5)
    axis.imshow(1.0 - tile(np.clip(mosaic, 0, 1), len(rows), cols), cmap="gray", vmin=0, vmax=1)
    axis.set_axis_off()
    axis.set_title("test images (odd rows) and their reconstructions (even rows)", fontsize=9)
    return save_figure(figure, path)


def project_2d(codes: np.ndarray) -> tuple[np.ndarray, str, np.ndarray | None, np.ndarray | None]:
    """2-D view of latent codes: themselves if 2-D, else their first two principal components."""
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), "z", None, None
    if codes.shape[1] == 2:
        return codes, "z", None, None
    centre = codes.mean(axis=0)
    _, singular, components = np.linalg.svd(codes - centre, full_matrices=False)
    explained = singular**2 / np.sum(singular**2)
    label = f"PCA of the {codes.shape[1]}-D means ({100 * explained[:2].sum():.0f}% of variance)"
    return (codes - centre) @ components[:2].T, label, centre, components[:2]


def save_latent_scatter(
    codes: np.ndarray, labels: np.ndarray, means: np.ndarray, path: Path
) -> str:
    """Test-set codes coloured by digit with each digit's mean marked; returns the projection."""
    points, label, centre, components = project_2d(codes)
    marks = means if centre is None else (means - centre) @ components.T
    if marks.shape[1] == 1:
        marks = np.column_stack([marks[:, 0], np.zeros(len(marks))])
    figure, axis = new_figure(7, 6)
    for digit in range(10):
        members = points[labels == digit]
        axis.scatter(members[:, 0], members[:, 1], s=2, alpha=0.4, color=DIGIT_COLOURS(digit),
                     label=str(digit), rasterized=True)  # fmt: skip
    for digit, (x, y) in enumerate(marks):
        if np.isfinite([x, y]).all():
            axis.scatter(
                x, y, s=260, color=DIGIT_COLOURS(digit), edgecolors="black", linewidths=1.2
            )
            axis.annotate(str(digit), (x, y), ha="center", va="center", fontsize=9, weight="bold")
    axis.legend(title="digit", markerscale=5, loc="upper right", fontsize=8)
    first, second = ("z1", "z2") if label == "z" else ("PC1", "PC2")
    axis.set_xlabel(first)
    axis.set_ylabel(second)
    title = "test-set latent means by digit (large dots: digit means)"
    axis.set_title(title if label == "z" else f"{title}\n{label}", fontsize=10)
    save_figure(figure, path)
    return "identity (latent is 2-D)" if label == "z" else label


def latent_grid_codes(codes: np.ndarray, size: int = 20, coverage: float = 98.0) -> np.ndarray:
    """A size x size grid over the central ``coverage`` % of 2-D ``codes`` on each axis.

    The grid spans where the data's codes lie rather than the prior's quantiles:
    the report's small decoders cannot shift their codes freely (their first layer
    has a per-channel bias only), so the codes' cloud need not be centred on 0.
    Rows run from high z2 (top) to low z2, columns from low z1 to high z1.
    """
    tail = (100.0 - coverage) / 2
    low, high = np.percentile(codes, [tail, 100.0 - tail], axis=0)
    # A collapsed posterior puts every code in one spot: show the prior's +-2 instead.
    flat = (high - low) < 1e-3
    low, high = (
        np.where(flat, (low + high) / 2 - 2.0, low),
        np.where(flat, (low + high) / 2 + 2.0, high),
    )
    xs = np.linspace(low[0], high[0], size)
    ys = np.linspace(high[1], low[1], size)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(np.float32)


def save_latent_grid(
    images: np.ndarray, size: int, extent: tuple[float, float, float, float], path: Path
) -> Path:
    """Decoded grid with the latent coordinates on the axes."""
    figure, axis = new_figure(8, 8.3)
    left, right, bottom, top = extent
    axis.imshow(1.0 - tile(np.clip(images, 0, 1), size, size, pad=0), cmap="gray", vmin=0, vmax=1,
                extent=(left, right, bottom, top), aspect="auto")  # fmt: skip
    axis.set_xlabel("z1")
    axis.set_ylabel("z2")
    axis.set_title(
        "decoded 2-D latent grid over the test codes' central 98% on each axis", fontsize=10
    )
    return save_figure(figure, path)


def most_active_dimensions(codes: np.ndarray, count: int = 10) -> np.ndarray:
    """The ``count`` latent dimensions whose codes vary most over the data, most first.

    The variance of the posterior means across images is the activity measure of
    Burda et al. (2016): an inactive dimension's code is the same for every image.
    """
    spread = np.var(codes.reshape(len(codes), -1), axis=0)
    return np.argsort(-spread, kind="stable")[:count]


def latent_traversal_codes(
    base: np.ndarray, codes: np.ndarray, dimensions: np.ndarray, steps: int = 9,
    coverage: float = 98.0,
) -> np.ndarray:  # fmt: skip
    """Codes that sweep each of ``dimensions`` in turn while the others stay at ``base``.

    Each dimension runs over the central ``coverage`` % of its values in ``codes``
    (the data's range, as in ``latent_grid_codes``), in ``steps`` even steps. Returns
    [len(dimensions) * steps, *base.shape], one row of the figure per dimension.
    """
    flat = codes.reshape(len(codes), -1)
    tail = (100.0 - coverage) / 2
    low, high = np.percentile(flat, [tail, 100.0 - tail], axis=0)
    rows = []
    for dimension in dimensions:
        row = np.repeat(base.reshape(1, -1), steps, axis=0)
        row[:, dimension] = np.linspace(low[dimension], high[dimension], steps)
        rows.append(row)
    return np.concatenate(rows).reshape(-1, *base.shape).astype(np.float32)


def save_latent_traversals(
    images: np.ndarray, dimensions: np.ndarray, steps: int, path: Path, *, title: str = ""
) -> Path:
    """One row per swept latent dimension, labelled, low values on the left."""
    rows = len(dimensions)
    figure, axis = new_figure(steps * 0.6 + 0.7, rows * 0.6 + 0.6)
    height = images.shape[1] + 1
    axis.imshow(1.0 - tile(np.clip(images, 0, 1), rows, steps), cmap="gray", vmin=0, vmax=1)
    axis.set_xticks([])
    axis.set_yticks([1 + height * (r + 0.5) for r in range(rows)],
                    [f"z{int(d) + 1}" for d in dimensions], fontsize=8)  # fmt: skip
    for side in axis.spines.values():
        side.set_visible(False)
    axis.set_xlabel("low  \u2190  value of the swept dimension  \u2192  high", fontsize=8)
    axis.set_title(title or "latent traversals: each row sweeps one dimension", fontsize=9)
    return save_figure(figure, path)


def save_loss_curves(history: dict[str, list[float]], path: Path) -> Path:
    """One panel per ELBO term, training and test curves by epoch."""
    terms = [name for name in ("loss", "reconstruction", "kl") if name in history]
    figure = Figure(figsize=(4.2 * len(terms), 3.4))
    axes = figure.subplots(1, len(terms), squeeze=False)
    for axis, name in zip(axes[0], terms, strict=True):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], label="test")
        axis.set_title({"loss": "negative ELBO"}.get(name, name) + " (nats / image)", fontsize=10)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return save_figure(figure, path)


def save_figure(figure, path: Path) -> Path:
    """Save beside the target and rename, so a reader never sees half a PNG."""
    path = Path(path)
    figure.tight_layout()
    with staged_file(path) as staging:
        figure.savefig(staging, dpi=110)
    return path
