"""``mnist-vae benchmark nll``: the NLL table, end to end on a small slice, and its parts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.errors import UsageError
from mnist_vae.experiments.nll import IWAE2_DEFAULT_SAMPLES, NllConfig, active_units, anchor_for
from tests.helpers import benchmarks_without_run_figures


def test_active_units_count_dimensions_whose_mean_varies():
    codes = np.zeros((100, 4))
    codes[:, 0] = np.linspace(-1, 1, 100)  # variance 0.34: active
    codes[:, 1] = np.linspace(-0.1, 0.1, 100)  # variance 0.0034: inactive
    codes[:, 2] = 5.0  # constant: inactive
    codes[:, 3] = np.tile([-0.2, 0.2], 50)  # variance 0.04: active
    assert active_units(codes) == 2


def test_options_reach_only_the_strategies_that_declare_them():
    config = NllConfig(strategies=("vae", "iwae"), options={"iw_samples": 7}, quick=True)
    assert config.run_config("iwae").model.options == {"iw_samples": 7}
    assert config.run_config("vae").model.options == {}
    assert config.run_config("vae").train.binarize == "dynamic"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--strategies", "vea"], "did you mean 'vae'"),
        (["--strategies", ""], "give strategies to train or runs to measure"),
        (["--strategies", "iwae", "--option", "iw_samples=0"], "--iw-samples must be >= 1"),
        (["--arch", "mpl"], "did you mean 'mlp'"),
    ],
)
def test_usage_errors_exit_2_before_any_work(tmp_path, args, fragment):
    result = CliRunner().invoke(cli, ["benchmark", "nll", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert not (tmp_path / "o").exists()


def test_quick_benchmark_trains_measures_and_writes_its_table(
    tmp_path, small_mnist_npz, monkeypatch
):
    from tests.helpers import data_out, nll_of_run

    benchmarks_without_run_figures(monkeypatch)  # the table's figure (nll.png) is drawn
    out = tmp_path / "nll"
    options = ["--quick", "--strategies", "vae,iwae", "--iw-samples", "20", "--latent-dim", "4"]
    args = ["benchmark", "nll", *options, *data_out(small_mnist_npz, out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    rows = {row["strategy"]: row for row in results["rows"]}
    assert sorted(rows) == ["iwae", "vae"]
    for row in rows.values():
        assert row["iw_samples"] == 20 and row["binarize"] == "dynamic"
        # The importance-sampled NLL is a tighter bound than the ELBO (up to sampling noise).
        assert row["nll"] <= row["negative_elbo"] + 1.0
        assert 0 <= row["active_units"] <= 4
        assert row["anchor"] is None  # latent 4 is not the papers' setting: no figure beside it
    assert (out / "nll.png").stat().st_size > 0
    assert "test NLL" in result.output

    # An existing run is measured without training; beside a copy recorded with another
    # seed (the same weights: the same NLL), the two are one recipe's spread.
    trained = Path(rows["vae"]["run"])
    other = tmp_path / "other-seed"
    shutil.copytree(trained, other)
    record = json.loads((other / "config.json").read_text())
    record["train"]["seed"] += 1
    (other / "config.json").write_text(json.dumps(record))
    again = tmp_path / "again"
    args = nll_of_run(trained, 20, small_mnist_npz, again, "--quick", "--run", other)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    measured = json.loads((again / "results.json").read_text())
    assert [row["strategy"] for row in measured["rows"]] == ["vae", "vae"]
    (spread,) = measured["spread"]
    assert spread["seeds"] == [record["train"]["seed"] - 1, record["train"]["seed"]]
    assert spread["nll_std"] == pytest.approx(0.0, abs=1e-6)
    assert f"spread, vae: {spread['nll_mean']:.2f} ± 0.00 nats over seeds" in result.output


def test_paper_figures_stand_only_beside_models_of_the_papers_setting():
    assert anchor_for("vae", "mlp", 50, "dynamic")[1] == 86.76
    assert anchor_for("vae", "mlp", 50, "threshold") is None
    assert anchor_for("vae", "resconv", 50, "dynamic") is None
    assert anchor_for("cvae", "mlp", 50, "dynamic") is None
    assert anchor_for("vae", "mlp", 50, "dynamic", {"posterior": "iaf"})[1] == 79.88
    assert anchor_for("vae", "mlp", 50, "dynamic", {"posterior": "gaussian"})[1] == 86.76
    # Burda et al.'s two-layer rows are iwae2's, by the K it trained with; the ladder
    # hvae and the VampPrior (its paper's dynamic-MNIST figure unconfirmed) have none.
    assert anchor_for("iwae2", "mlp", 100, "dynamic", {"iw_samples": 1})[1] == 85.33
    assert anchor_for("iwae2", "mlp", 100, "dynamic", {"iw_samples": 50})[1] == 82.90
    assert anchor_for("iwae2", "mlp", 100, "dynamic", {"iw_samples": 5})[1] == 83.89
    assert anchor_for("iwae2", "mlp", 100, "dynamic")[1] == 83.89  # its default K=5
    assert anchor_for("iwae2", "mlp", 100, "dynamic", {"iw_samples": 20}) is None  # no row
    assert anchor_for("iwae2", "mlp", 50, "dynamic", {"iw_samples": 50}) is None
    assert anchor_for("hvae", "mlp", 100, "dynamic") is None
    assert anchor_for("vamp", "mlp", 50, "dynamic") is None
    from mnist_vae.zoo.strategies.iwae2 import Iwae2Options

    assert Iwae2Options().iw_samples == IWAE2_DEFAULT_SAMPLES


def test_an_option_no_strategy_declares_is_refused():
    with pytest.raises(UsageError, match="option iw_sampels applies to none of vae, iwae"):
        NllConfig(strategies=("vae", "iwae"), options={"iw_sampels": 50})


def test_config_refuses_a_zero_sample_count():
    with pytest.raises(UsageError, match="iw_samples must be at least 1"):
        NllConfig(iw_samples=0)


def test_a_benchmarks_later_models_show_no_retracing_warning_and_the_rest_stays():
    """Several models trained in one process each trace their own steps, which TensorFlow
    counts together: that warning is dropped while a benchmark trains, nothing else."""
    import logging

    import tensorflow as tf

    from mnist_vae.experiments.skeleton import RETRACING, models_traced_anew

    logger, seen = tf.get_logger(), []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        with models_traced_anew():
            logger.warning("5 out of the last 11 calls to f %s.", RETRACING)
            logger.warning("something else")
        logger.warning("after: %s", RETRACING)
    finally:
        logger.removeHandler(handler)
    assert seen == ["something else", f"after: {RETRACING}"]


def test_the_spread_over_seeds_is_the_mean_and_sample_std_of_one_recipes_runs():
    from mnist_vae.experiments.nll import seed_spread

    def row(recipe, seed, nll, **extra):
        fields = {"strategy": "vae", "options": {}, "iw_samples": 5000, "test_images": 10_000}
        return {**fields, "recipe": recipe, "seed": seed, "nll": nll, **extra}

    rows = [
        row("a", 0, 86.0),
        row("a", 1, 86.5),
        row("a", 1, 99.0),  # the same seed again: its first row counts
        row("a", 2, 87.0),
        row("a", 3, 80.0, in_progress=True),  # not finished: not part of the spread
        row("b", 0, 85.0),  # one seed: no spread
        row("b", 1, 85.4, iw_samples=100),  # measured otherwise: does not pool with seed 0
    ]
    (spread,) = seed_spread(rows)
    # By hand: deviations -0.5, 0, +0.5 from 86.5; sample variance 0.5 / 2 = 0.25.
    assert spread["seeds"] == [0, 1, 2] and spread["nll"] == [86.0, 86.5, 87.0]
    assert spread["nll_mean"] == pytest.approx(86.5) and spread["nll_std"] == pytest.approx(0.5)
    assert spread["model"] == "vae" and spread["recipe"] == "a"


def test_a_recipe_leaves_out_the_seed_and_where_a_run_ran_but_not_its_settings():
    import dataclasses

    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.experiments.nll import recipe_of
    from mnist_vae.models import model_config

    base = RunConfig(model=model_config("mlp", latent_dim=50), train=TrainConfig(seed=0))

    def changed(**train):
        return dataclasses.replace(base, train=dataclasses.replace(base.train, **train))

    same = changed(seed=1, data="other.npz", figures=False)
    assert recipe_of(same) == recipe_of(base)
    assert recipe_of(changed(learning_rate=0.01)) != recipe_of(base)
    assert recipe_of(changed(epochs=3)) != recipe_of(base)
