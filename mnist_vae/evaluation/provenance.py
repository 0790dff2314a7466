"""Which data an evaluation of a run used, and where in metrics.json it is kept.

A run records the data it was trained on (``config.json``'s ``data``: source and
hashes of both splits). An evaluation on that data is *the* evaluation of the run
(``evaluation``, ``evaluation_binarized``, ...); one on other data, asked for with
``--data``, is kept beside it under a key naming that data's hash, so a number
measured on other data never takes the place of the run's own.
"""

from __future__ import annotations

from pathlib import Path

from mnist_vae.data import MnistData, load_mnist, load_recorded, same_data
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
    return load_recorded(run.config.train.data, run.record.get("data"), owner=str(run.path),
                         report=report)  # fmt: skip


def evaluation_key(run: Run, data: MnistData, binarize: str) -> str:
    """``evaluation...`` for the run's own data; ``evaluation..._on_HASH`` for other data.

    A run too old to record hashes counts as evaluated on its own data.
    """
    key = EVALUATION_KEYS[binarize]
    if same_data(run.record.get("data"), data.provenance) is False:
        return f"{key}_on_{data.provenance['test_sha256'][:12]}"
    return key
