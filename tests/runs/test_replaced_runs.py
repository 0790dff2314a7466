"""A command that loaded a run never writes into the run that replaced it meanwhile."""

from __future__ import annotations

import os
import shutil

import pytest

from mnist_vae.errors import RunError
from mnist_vae.runs import load_run


def test_a_result_of_a_run_replaced_meanwhile_is_not_written_into_the_new_one(
    one_epoch_run, tmp_path
):
    """evaluate (or sample --sampler) beside a train --overwrite of the same run: the
    new run keeps its own metrics and gets no sampler fitted on the old model."""
    source = one_epoch_run("vae").path
    run = tmp_path / "run"
    shutil.copytree(source, run)
    loaded = load_run(run)
    shutil.copytree(source, tmp_path / "new")
    shutil.rmtree(run)
    os.replace(tmp_path / "new", run)  # train --overwrite's swap, while the command ran
    before = (run / "metrics.json").read_bytes()
    with pytest.raises(RunError, match="was replaced while this ran"):
        loaded.add_metrics("evaluation", {"negative_elbo": 1.0})
    with pytest.raises(RunError, match="was replaced while this ran"):
        loaded.save_sampler("gmm", sampler=None)
    assert (run / "metrics.json").read_bytes() == before
    assert not (run / "samplers").exists()
    reloaded = load_run(run)  # loaded afresh: the new run, written as usual
    reloaded.add_metrics("evaluation", {"negative_elbo": 1.0})
    assert b"evaluation" in (run / "metrics.json").read_bytes()
