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
# Dark ink on white, each image pixel a block of screen pixels: nearest-neighbour
# scaling keeps digits crisp and draws a grid of 100 digits 3.5x faster than
# matplotlib's default antialiasing filter (a run's figures are most of a short run).
INK = {"cmap": "gray", "vmin": 0, "vmax": 1, "interpolation": "nearest"}


def new_figure(width: float, height: float):
    """A figure with one axis, independent of pyplot's state."""
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


# Images are ink (MNIST: 1 = stroke) and drawn inverted, dark on white. Gutters get a
# little ink, so they show as light grey lines rather than heavy black frames.
GUTTER_INK = 0.18


def tile(
    images: np.ndarray, rows: int, cols: int, pad: int = 1, gutter: float = GUTTER_INK
) -> np.ndarray:
    """Arrange (N, H, W) images in a rows x cols mosaic; gutters of ``gutter`` ink,
    empty cells blank."""
    count, height, width = images.shape
    canvas = np.full(
        (rows * (height + pad) + pad, cols * (width + pad) + pad), gutter, dtype=np.float32
    )
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        canvas[top : top + height, left : left + width] = images[i] if i < count else 0.0
    return canvas


def save_image_grid(
    images: np.ndarray,
    path: Path,
    *,
    cols: int = 10,
    title: str = "",
    column_labels: list[str] | None = None,
) -> Path:
    """A grid of images, dark ink on white as people read them.

    ``column_labels`` (one per column) are written above the columns, e.g. the class
    names when each column holds one class.
    """
    rows = int(np.ceil(len(images) / cols))
    labels = list(column_labels or [])[:cols]
    slanted = any(len(label) > 3 for label in labels)
    above = (0.55 if slanted else 0.2) if labels else 0.0
    figure, axis = new_figure(cols * 0.55 + 0.2, rows * 0.55 + (0.5 if title else 0.2) + above)
    axis.imshow(1.0 - tile(np.clip(images, 0, 1), rows, cols), **INK)
    if labels:
        width = images.shape[2] + 1
        axis.xaxis.tick_top()
        axis.set_xticks(
            [1 + width * c + (width - 2) / 2 for c in range(len(labels))],
            labels,
            fontsize=7,
            rotation=40 if slanted else 0,
            ha="left" if slanted else "center",
        )
        axis.tick_params(axis="x", length=0, pad=1)
        axis.set_yticks([])
        for side in axis.spines.values():
            side.set_visible(False)
    else:
        axis.set_axis_off()
    if title:
        axis.set_title(title, fontsize=9)
    return save_figure(figure, path)


def pair_mosaic(
    originals: np.ndarray, reconstructions: np.ndarray, cols: int, gap: int = 6
) -> np.ndarray:
    """Each original beside its reconstruction, ``cols`` pairs per row, pairs set apart.

    Within a pair the images touch but for a 1-pixel gutter; between pairs, and between
    rows, the gutter is ``gap`` pixels, so the eye reads pairs, not a flat grid.
    """
    count, height, width = originals.shape
    rows = int(np.ceil(count / cols))
    pair_width = 2 * width + 1
    canvas = np.zeros((rows * (height + gap) + gap, cols * (pair_width + gap) + gap), np.float32)
    for i in range(count):
        r, c = divmod(i, cols)
        top, left = gap + r * (height + gap), gap + c * (pair_width + gap)
        canvas[top - 1 : top + height + 1, left - 1 : left + pair_width + 1] = GUTTER_INK
        canvas[top : top + height, left : left + width] = originals[i]
        canvas[top : top + height, left + width + 1 : left + pair_width] = reconstructions[i]
    return canvas


def save_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, path: Path) -> Path:
    """Test images beside their reconstructions, in labelled pairs."""
    cols = 8
    count = min(len(originals), 6 * cols)
    mosaic = pair_mosaic(
        np.clip(originals[:count], 0, 1), np.clip(reconstructions[:count], 0, 1), cols
    )
    rows = int(np.ceil(count / cols))
    figure, axis = new_figure(cols * 1.05 + 0.3, rows * 0.55 + 0.75)
    axis.imshow(1.0 - mosaic, **INK)
    width = originals.shape[2]
    pair_width, gap = 2 * width + 1, 6
    centres = [
        gap + c * (pair_width + gap) + offset + width / 2
        for c in range(min(cols, count))
        for offset in (0, width + 1)
    ]
    axis.xaxis.tick_top()
    axis.set_xticks(centres, ["test", "recon."] * (len(centres) // 2), fontsize=7)
    axis.tick_params(axis="x", length=0, pad=1)
    axis.set_yticks([])
    for side in axis.spines.values():
        side.set_visible(False)
    axis.set_title(
        "each pair: a test image and its reconstruction (decoded posterior mean)",
        fontsize=9,
        pad=14,
    )
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


def spread_labels(points: np.ndarray, min_distance: float, rounds: int = 200) -> np.ndarray:
    """Positions near ``points`` (in units where the axes are 1 long) at least
    ``min_distance`` apart, so that labels placed there do not overprint.

    A few rounds of pairwise repulsion: two labels closer than ``min_distance`` are
    pushed apart along the line between them; labels far apart do not move.
    """
    placed = np.array(points, dtype=np.float64)
    for _ in range(rounds):
        moved = False
        for i in range(len(placed)):
            for j in range(i + 1, len(placed)):
                step = placed[j] - placed[i]
                distance = float(np.hypot(*step))
                if distance >= min_distance:
                    continue
                direction = step / distance if distance > 1e-9 else np.array([1.0, 0.3]) / 1.044
                push = (min_distance - distance) / 2 + 1e-6
                placed[i] -= push * direction
                placed[j] += push * direction
                moved = True
        if not moved:
            break
    return placed


def latent_legend(class_names: list[str] | None = None, what: str | None = None):
    """The latent scatter's words: (legend title, one label per class, title).

    ``what`` is what one class is called (``digit`` or ``class``); by default ``class``
    when names are given, else ``digit``.
    """
    what = what or ("class" if class_names else "digit")
    names = [str(name) for name in class_names] if class_names else [str(c) for c in range(10)]
    return what, names, f"test-set latent means by {what} (outlined dots: each {what}'s mean)"


def save_latent_scatter(
    codes: np.ndarray,
    labels: np.ndarray,
    means: np.ndarray,
    path: Path,
    class_names: list[str] | None = None,
    what: str | None = None,
) -> str:
    """Test-set codes coloured by class with each class's mean marked; returns the projection.

    The legend (``latent_legend``) sits outside the axes, and the means' labels are
    spread apart (with a thin leader line to their mean) so that close means stay readable.
    """
    what, names, title = latent_legend(class_names, what)
    points, label, centre, components = project_2d(codes)
    marks = means if centre is None else (means - centre) @ components.T
    if marks.shape[1] == 1:
        marks = np.column_stack([marks[:, 0], np.zeros(len(marks))])
    figure, axis = new_figure(7.6, 6)
    _scatter_classes(axis, points, labels, names)
    _mark_class_means(axis, points, marks, names)
    axis.legend(
        title=what,
        markerscale=5,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    first, second = ("z1", "z2") if label == "z" else ("PC1", "PC2")
    axis.set_xlabel(first)
    axis.set_ylabel(second)
    axis.set_title(title if label == "z" else f"{title}\n{label}", fontsize=10)
    save_figure(figure, path)
    return "identity (latent is 2-D)" if label == "z" else label


def _scatter_classes(axis, points: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    """Each class's codes in its own colour: small, translucent and rasterized dots, so
    ten thousand of them stay readable where they overlap and the file stays small."""
    for digit in range(10):
        members = points[labels == digit]
        axis.scatter(
            members[:, 0],
            members[:, 1],
            s=2,
            alpha=0.4,
            color=DIGIT_COLOURS(digit),
            label=names[digit],
            rasterized=True,
        )


def _mark_class_means(axis, points: np.ndarray, marks: np.ndarray, names: list[str]) -> None:
    """Each class's (finite) mean as an outlined dot, named by a label spread apart from
    the others (with a thin leader line when moved) so that close means stay readable."""
    from matplotlib import patheffects

    finite = np.isfinite(marks).all(axis=1)
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    span = np.maximum(high - low, 1e-9)
    placed = spread_labels((marks[finite] - low) / span, 0.06) * span + low
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for digit, (x, y), (tx, ty) in zip(np.flatnonzero(finite), marks[finite], placed, strict=True):
        axis.scatter(
            x, y, s=60, color=DIGIT_COLOURS(digit), edgecolors="black", linewidths=1.0, zorder=3
        )
        moved = np.hypot((tx - x) / span[0], (ty - y) / span[1]) > 0.01
        axis.annotate(
            names[digit],
            (x, y),
            xytext=(tx, ty),
            ha="center",
            va="center",
            fontsize=10,
            weight="bold",
            zorder=4,
            path_effects=halo,
            arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.2"} if moved else None,
        )


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
    axis.imshow(
        1.0 - tile(np.clip(images, 0, 1), size, size, pad=0),
        **INK,
        extent=(left, right, bottom, top),
        aspect="auto",
    )
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
    base: np.ndarray,
    codes: np.ndarray,
    dimensions: np.ndarray,
    steps: int = 9,
    coverage: float = 98.0,
) -> np.ndarray:
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
    axis.imshow(1.0 - tile(np.clip(images, 0, 1), rows, steps), **INK)
    axis.set_xticks([])
    axis.set_yticks(
        [1 + height * (r + 0.5) for r in range(rows)],
        [f"z{int(d) + 1}" for d in dimensions],
        fontsize=8,
    )
    for side in axis.spines.values():
        side.set_visible(False)
    axis.set_xlabel("low  \u2190  value of the swept dimension  \u2192  high", fontsize=8)
    axis.set_title(title or "latent traversals: each row sweeps one dimension", fontsize=9)
    return save_figure(figure, path)


def focus_limits(values: list[np.ndarray], skip: int = 1) -> tuple[float, float] | None:
    """y-limits for curves whose first ``skip`` epochs would flatten the rest, or None.

    From epoch ``skip + 2`` on, when the first epochs lie further beyond the others than
    they spread, the scale is set by the later epochs (plus a margin), so the first
    epoch's spike, often many times the final loss, leaves the rest readable; the first
    points are then cut at the edge and said in the panel.
    """
    later = np.concatenate([np.asarray(v, dtype=float)[skip:] for v in values])
    first = np.concatenate([np.asarray(v, dtype=float)[:skip] for v in values])
    later, first = later[np.isfinite(later)], first[np.isfinite(first)]
    if len(values[0]) < skip + 2 or not len(later) or not len(first):
        return None
    low, high = float(later.min()), float(later.max())
    margin = max(high - low, 1e-6 * max(abs(high), 1.0)) * 0.08
    spread = high - low
    if first.max() - high <= spread and low - first.min() <= spread:
        return None  # the first epoch would at most double the scale: show it
    return low - margin, high + margin


def interpolation_codes(start: np.ndarray, end: np.ndarray, steps: int = 8) -> np.ndarray:
    """``steps`` codes on the straight line from each start to its end, both included.

    ``start`` and ``end``: [pairs, *code shape]; returns [pairs * steps, *code shape],
    one figure row per pair.
    """
    weights = np.linspace(0.0, 1.0, steps).reshape(1, steps, *([1] * (start.ndim - 1)))
    line = start[:, None] * (1.0 - weights) + end[:, None] * weights
    return line.reshape(-1, *start.shape[1:]).astype(np.float32)


def save_interpolations(
    starts: np.ndarray, decoded: np.ndarray, ends: np.ndarray, path: Path
) -> Path:
    """Rows from one test image to another: the two images at the ends, decoded
    interpolations of their codes between."""
    pairs, steps = len(starts), len(decoded) // len(starts)
    rows = decoded.reshape(pairs, steps, *decoded.shape[1:])
    mosaic = np.concatenate([starts[:, None], rows, ends[:, None]], axis=1)
    cols = steps + 2
    figure, axis = new_figure(cols * 0.6 + 0.3, pairs * 0.6 + 0.8)
    axis.imshow(
        1.0 - tile(np.clip(mosaic.reshape(-1, *decoded.shape[1:]), 0, 1), pairs, cols), **INK
    )
    width = decoded.shape[2] + 1
    axis.set_xticks(
        [1 + width * 0.5, 1 + width * (cols - 0.5)], ["test image A", "test image B"], fontsize=7
    )
    axis.set_yticks([])
    for side in axis.spines.values():
        side.set_visible(False)
    axis.set_title("decoded codes on the straight line from A's to B's (A, B outside)", fontsize=9)
    return save_figure(figure, path)


LONG_RUN_EPOCHS = 100
"""Above this many epochs a loss figure reads its epochs on a log scale, and its y-scale
is set from epoch ``LONG_RUN_SKIP + 1`` on: a long run's slow late progress (and a
staged learning rate's steps) would otherwise be a flat line under its first epochs."""
LONG_RUN_SKIP = 10


def save_loss_curves(history: dict[str, list[float]], path: Path) -> Path:
    """One panel per ELBO term, training and test curves by epoch.

    Readable after one epoch (markers, whole-number epochs), after many (the first
    epoch does not set the scale: ``focus_limits``) and after thousands (``LONG_RUN_EPOCHS``).
    """
    from matplotlib.ticker import MaxNLocator

    terms = [name for name in ("loss", "reconstruction", "kl") if name in history]
    figure = Figure(figsize=(4.2 * len(terms), 3.4))
    axes = figure.subplots(1, len(terms), squeeze=False)
    for axis, name in zip(axes[0], terms, strict=True):
        epochs = np.arange(1, len(history[name]) + 1)
        long = len(epochs) > LONG_RUN_EPOCHS
        skip = LONG_RUN_SKIP if long else 1
        curves = [("train", history[name])]
        if f"val_{name}" in history:
            curves.append(("test", history[f"val_{name}"]))
        marker = "o" if len(epochs) <= 40 else None
        for label, values in curves:
            axis.plot(epochs, values, label=label, marker=marker, markersize=3.5)
        limits = focus_limits([np.asarray(v) for _, v in curves], skip=skip)
        if limits is not None:
            axis.set_ylim(*limits)
            firsts = ", ".join(f"{label} {values[0]:.4g}" for label, values in curves)
            axis.annotate(
                f"epoch 1 off scale: {firsts}" if skip == 1 else f"epochs 1-{skip} off scale",
                (0.98, 0.97),
                xycoords="axes fraction",
                ha="right",
                va="top",
                fontsize=7,
                color="0.35",
            )
        if long:
            axis.set_xscale("log")
            axis.set_xlim(1, len(epochs))
        else:
            axis.set_xlim(0.5, max(len(epochs), 1) + 0.5)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        axis.set_title({"loss": "negative ELBO"}.get(name, name) + " (nats / image)", fontsize=10)
        axis.set_xlabel("epoch (log scale)" if long else "epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="center right" if limits is not None else "best")
    return save_figure(figure, path)


def save_figure(figure, path: Path) -> Path:
    """Save beside the target and rename, so a reader never sees half a PNG."""
    path = Path(path)
    figure.tight_layout()
    with staged_file(path) as staging:
        figure.savefig(staging, dpi=110)
    return path
