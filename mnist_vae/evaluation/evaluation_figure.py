"""The figure ``mnist-vae evaluate`` writes beside the numbers it stores.

Three panels people read at a glance: the -log p(x) bound per class (which classes
the model finds hard), the judge's confidence on samples against its confidence on
test images (are samples as recognisable as real ones?), and how often the judge
agrees with the class a labelled draw asked for, per class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mnist_vae.runs.figures import DIGIT_COLOURS, save_figure


def per_class_means(values: np.ndarray, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """The mean of ``values`` over each class's images (NaN for a class with none)."""
    return np.array(
        [values[labels == c].mean() if np.any(labels == c) else np.nan for c in range(classes)]
    )


def save_evaluation_figure(
    path: Path,
    *,
    nll_by_class: np.ndarray,
    nll_mean: float,
    iw_samples: int,
    sample_confidence: np.ndarray | None = None,
    test_confidence: np.ndarray | None = None,
    agreement_by_class: np.ndarray | None = None,
    class_names: list[str] | None = None,
    agreement_note: str | None = None,
    title: str = "",
) -> Path:
    """Draw the panels that have data (the quality ones need the judge) and save.

    ``agreement_note``: why the agreement is not about the run's classes (the data's
    classes are others'); it is written in red beneath that panel and in the title.
    """
    names = class_names or [str(c) for c in range(len(nll_by_class))]
    panels = 1 + (sample_confidence is not None) + (agreement_by_class is not None)
    figure = Figure(figsize=(4.3 * panels, 3.5))
    axes = list(figure.subplots(1, panels, squeeze=False)[0])
    _bound_panel(axes.pop(0), names, nll_by_class, nll_mean, iw_samples)
    if sample_confidence is not None:
        _confidence_panel(axes.pop(0), sample_confidence, test_confidence)
    if agreement_by_class is not None:
        _agreement_panel(axes.pop(0), names, agreement_by_class, agreement_note)
    if agreement_note is not None:
        title = (
            f"{title}; class agreement: NOT the run's classes"
            if title
            else "class agreement: NOT the run's classes"
        )
    if title:
        figure.suptitle(title, fontsize=10, color="tab:red" if agreement_note else "black")
    return save_figure(figure, path)


def _colours(names: list[str]) -> list:
    return [DIGIT_COLOURS(c) for c in range(len(names))]


def _name_ticks(axis, names: list[str]) -> None:
    """Class names, not the digits 0-9, are slanted so they do not overlap."""
    if any(len(name) > 2 for name in names):
        axis.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=7)


def _bound_panel(
    axis, names: list[str], nll_by_class: np.ndarray, nll_mean: float, iw_samples: int
) -> None:
    """The -log p(x) bound per class, the mean over all as a line."""
    axis.bar(names, nll_by_class, color=_colours(names))
    axis.axhline(nll_mean, color="0.25", lw=1, ls="--", label=f"all: {nll_mean:.2f}")
    finite = nll_by_class[np.isfinite(nll_by_class)]
    if len(finite):
        low, high = finite.min(), finite.max()
        axis.set_ylim(max(0.0, low - 0.25 * (high - low + 1e-9)), high + 0.15 * (high - low + 1))
    axis.set_title(f"-log p(x) bound by class (IWAE, K={iw_samples})", fontsize=10)
    axis.set_ylabel("nats per image")
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(axis="y", alpha=0.3)
    _name_ticks(axis, names)


def _confidence_panel(
    axis, sample_confidence: np.ndarray, test_confidence: np.ndarray | None
) -> None:
    """The judge's confidence on samples against its confidence on test images."""
    bins = np.linspace(0.0, 1.0, 21)
    axis.hist(
        test_confidence,
        bins=bins,
        alpha=0.55,
        color="tab:gray",
        density=True,
        label=f"test images (mean {np.mean(test_confidence):.3f})",
    )
    axis.hist(
        sample_confidence,
        bins=bins,
        alpha=0.65,
        color="tab:blue",
        density=True,
        label=f"prior samples (mean {np.mean(sample_confidence):.3f})",
    )
    axis.set_title("judge's top-class probability", fontsize=10)
    axis.set_xlabel("confidence")
    axis.set_ylabel("density")
    axis.legend(fontsize=8, loc="upper left")


def _agreement_panel(
    axis, names: list[str], agreement_by_class: np.ndarray, agreement_note: str | None
) -> None:
    """How often the judge agrees with the class a labelled draw asked for, per class."""
    axis.bar(names, 100 * np.asarray(agreement_by_class), color=_colours(names))
    mean = 100 * float(np.mean(agreement_by_class))
    axis.axhline(mean, color="0.25", lw=1, ls="--", label=f"mean: {mean:.1f}%")
    axis.set_ylim(0, 105)
    axis.set_title(
        "judge agrees with the class asked for"
        if agreement_note is None
        else "judge agrees with the label number asked for",
        fontsize=10,
    )
    axis.set_ylabel("% of labelled draws")
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(axis="y", alpha=0.3)
    _name_ticks(axis, names)
    if agreement_note is not None:
        import textwrap

        axis.set_xlabel(textwrap.fill(agreement_note, 60), color="tab:red", fontsize=7)
