"""Which data an evaluation of a run used, and where in metrics.json it is kept.

A run records the data it was trained on (``config.json``'s ``data``: source and
hashes of both splits). An evaluation on that data is *the* evaluation of the run
(``evaluation``, ``evaluation_binarized``, ...); one on other data, asked for with
``--data``, is kept beside it under a key naming that data's hash, so a number
measured on other data never takes the place of the run's own.
"""

from __future__ import annotations

from pathlib import Path

from mnist_vae.data import MnistData, data_label, load_mnist, load_recorded, same_data
from mnist_vae.data.classes import DIGITS
from mnist_vae.runs import Run

# Where metrics.json keeps an evaluation on the run's own data, by the test set's binarization.
EVALUATION_KEYS = {
    "none": "evaluation",
    "threshold": "evaluation_binarized",
    "dynamic": "evaluation_dynamic_binarized",
}


def data_for_run(run: Run, path: str | Path | None = None, *, report=print) -> MnistData:
    """The data to evaluate ``run`` on: ``path`` if given, else the data it was trained on.

    Without ``path`` the data is found as training found it (its ``--data``, else
    ``MNIST_VAE_DATA`` or the automatic sources); if what is found now is not what
    the run recorded, that is a usage error rather than a number on other data.
    """
    if path is not None:
        return load_mnist(path, report=report)
    return load_recorded(
        run.config.train.data, run.record.get("data"), owner=str(run.path), report=report
    )


def evaluation_key(run: Run, data: MnistData, binarize: str) -> str:
    """``evaluation...`` for the run's own data; ``evaluation..._on_HASH`` for other data.

    A run too old to record hashes counts as evaluated on its own data.
    """
    key = EVALUATION_KEYS[binarize]
    if same_data(run.record.get("data"), data.provenance) is False:
        return f"{key}_on_{data.provenance['test_sha256'][:12]}"
    return key


def same_classes(recorded: dict | None, provenance: dict) -> bool | None:
    """Whether label k of the data ``recorded`` (a run's) is the same class as label k of
    ``provenance``'s data: the question behind scoring a run's labelled draws on it.

    True for the same data, the same named classes, or digits on both sides; False for
    differently named classes (an MNIST run's 4 is not Fashion-MNIST's "Coat"); None when
    the labels are bare numbers on one side, so nothing says what they mean.
    """
    if same_data(recorded, provenance) is True:
        return True
    if not recorded or recorded.get("class_names") is None:
        return None
    if list(recorded["class_names"]) != list(provenance["class_names"]):
        return False
    if recorded.get("digits") and provenance.get("digits"):
        return True
    if tuple(recorded["class_names"]) != DIGITS:  # the same names, given with both
        return True
    dataset = recorded.get("dataset")
    return True if dataset and dataset == provenance.get("dataset") else None


def class_agreement_note(recorded: dict | None, provenance: dict) -> str | None:
    """Why a run's class agreement on this data is not about its classes (None: it is).

    The judge's classes are the data's; the run draws its own label k. On other classes
    the agreement counts label numbers, not recognisable classes, and must say so.
    """
    same = same_classes(recorded, provenance)
    if same or (same is None and same_data(recorded, provenance) is None):
        return None  # a run too old to record its data counts as on its own, as for its key
    verb = "are not" if same is False else "are not known to be"
    return (
        f"class agreement by label number only: the run's classes "
        f"({data_label(recorded)}) {verb} this data's ({data_label(provenance)}), so its "
        f"label k is judged as this data's class k"
    )
