"""One sheet for ``mnist-vae compare --out``: the runs' samples side by side, their
numbers as bars beneath, so a comparison is seen before it is read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mnist_vae.runs.figures import INK, save_figure, tile

SAMPLES_PER_RUN = 36  # a 6 x 6 grid
# (label, what lower/higher means) for the bar charts, when some run has the number
CHARTED = (
    ("-ELBO", "lower is better"),
    ("IWAE", "lower is better"),
    ("FD", "lower is better"),
    ("agree", "higher is better"),
)


def save_compare_sheet(
    rows: list[dict],
    samples: list[np.ndarray],
    path: Path,
    seed: int = 0,
    *,
    warnings: Sequence[str] = (),
    mixed_data: bool = False,
) -> Path:
    """``rows`` as ``compare`` builds them (``run``, metrics by column label) and each
    run's samples [N, 28, 28]; draws the grids above and the charts below.

    ``warnings`` (why the numbers do not compare) are written in red under the title,
    so the picture says so wherever it goes without the console; with ``mixed_data``
    each run's grid also names its data.
    """
    runs = len(rows)
    charts = [
        (label, hint) for label, hint in CHARTED if any(row.get(label) is not None for row in rows)
    ]
    width = max(2.3 * runs, 2.6 * max(len(charts), 1))
    import textwrap

    notes = [textwrap.fill(f"WARNING: {w}", max(40, int(12 * width))) for w in warnings]
    lines = sum(note.count("\n") + 1 for note in notes)
    figure = Figure(
        figsize=(width, 2.7 + (2.4 if charts else 0) + 0.2 * lines + (0.3 if mixed_data else 0))
    )
    grid = figure.add_gridspec(
        2 if charts else 1, runs * len(charts) or runs, height_ratios=[2.7, 2.4] if charts else None
    )
    span = max(len(charts), 1)
    names = [Path(row["run"]).name for row in rows]
    for index, (name, images) in enumerate(zip(names, samples, strict=True)):
        axis = figure.add_subplot(grid[0, index * span : (index + 1) * span])
        _draw_samples(axis, name, images, rows[index], mixed_data)
    colours = [f"C{i % 10}" for i in range(runs)]
    for index, (label, hint) in enumerate(charts):
        axis = figure.add_subplot(grid[1, index * runs : (index + 1) * runs])
        _draw_chart(axis, label, hint, [row.get(label) for row in rows], names, colours)
    title = f"{runs} runs: samples from each prior (seed {seed}) and their numbers"
    title = "\n".join([title, *notes])
    figure.suptitle(title, fontsize=10, color="tab:red" if notes else "black")
    return save_figure(figure, path)


def _draw_samples(axis, name: str, images: np.ndarray, row: dict, mixed_data: bool) -> None:
    """One run's samples as a square grid, headed by what tells the runs apart (its name,
    strategy and latent size; its data too, in red, when the runs' data differ)."""
    side = int(np.ceil(np.sqrt(len(images))))
    axis.imshow(1.0 - tile(np.clip(images, 0, 1), side, side), **INK)
    axis.set_axis_off()
    heading = f"{name}\n{row.get('strategy', '')}, z={row.get('z', '')}"
    if mixed_data:
        heading += f"\ndata: {row.get('data')}"
    axis.set_title(heading, fontsize=8, color="tab:red" if mixed_data else "black")


def _draw_chart(
    axis, label: str, hint: str, values: list, names: list[str], colours: list[str]
) -> None:
    """One number's bars across the runs, each bar labelled with its value ("-" where a
    run lacks it); ``agree`` is shown in %, and the other numbers' y range is narrowed to
    the values so that close runs still differ visibly."""
    runs = len(values)
    shown = [np.nan if v is None else 100 * v if label == "agree" else v for v in values]
    bars = axis.bar(range(runs), shown, color=colours)
    for bar, value in zip(bars, shown, strict=True):
        text = "-" if not np.isfinite(value) else f"{value:.1f}"
        axis.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, 0 if not np.isfinite(value) else value),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    axis.set_xticks(range(runs), names, rotation=30, ha="right", fontsize=7)
    axis.set_title(f"{label} ({hint})" if label != "agree" else f"agree, % ({hint})", fontsize=9)
    finite = [v for v in shown if np.isfinite(v)]
    if finite and label != "agree":
        low, high = min(finite), max(finite)
        axis.set_ylim(max(0.0, low - 0.6 * (high - low + 1)), high + 0.25 * (high - low + 1))
    axis.grid(axis="y", alpha=0.3)


def run_samples(run, count: int = SAMPLES_PER_RUN, seed: int = 0) -> np.ndarray:
    """``count`` samples of a run's model, as ``mnist-vae sample`` draws them."""
    from mnist_vae.models.sampling import sample_digits

    return sample_digits(run.load_model(), count, seed)
