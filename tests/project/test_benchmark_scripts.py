"""The benchmark scripts run end to end on tiny inputs and count FLOPs correctly."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

BENCHMARKS = ROOT / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_flops_of_net1_by_hand():
    from mnist_vae.models import build_model, model_config

    throughput = _load("train_throughput")
    model = build_model(model_config("net1", latent_dim=2), seed=0)
    forward = (
        14 * 14 * 9 * 1 * 32 * 2  # conv 3x3/32, stride 2: 14x14 outputs
        + 7 * 7 * 9 * 32 * 64 * 2  # conv 3x3/64, stride 2: 7x7 outputs
        + 3136 * 4 * 2  # dense to mean and log-variance
        + 1 * 1 * 49 * 2 * 64 * 2  # tconv 7x7/64 on the 1x1x2 code
        + 7 * 7 * 9 * 64 * 32 * 2  # tconv 3x3/32 on 7x7 inputs
        + 14 * 14 * 9 * 32 * 1 * 2  # tconv 3x3/1 on 14x14 inputs
    )
    assert throughput.training_flops_per_image(model) == 3 * forward == 11_628_288


@pytest.mark.slow  # a benchmark script: make test-all
def test_train_throughput_runs_end_to_end(tmp_path, small_mnist_npz, monkeypatch):
    throughput = _load("train_throughput")
    out = tmp_path / "throughput.json"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "train_throughput.py",
            "--train-size",
            "400",
            "--repeats",
            "1",
            "--data",
            str(small_mnist_npz),
            "--json",
            str(out),
        ],
    )
    throughput.main()
    results = json.loads(out.read_text())
    assert results["ratio"] > 0 and results["matmul_peak_gflops"] > 0
    for loop in ("reference", "ours"):
        assert results[loop]["images_per_second"] > 0
        assert results[loop]["final_train_loss"] < 600  # it trained: ~543 at the start


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--repeats", "0"], "not a positive whole number"),
        (["--arch", "net9"], "net9"),
        (["--strategies", "iwae:0"], "positive whole number"),
        (["--strategies", "vea"], "vea"),
        (["--loops", "ours,jax"], "--loops takes ours"),
    ],
)
def test_train_throughput_bad_input_is_a_usage_error(
    args, fragment, small_mnist_npz, monkeypatch, capsys
):
    throughput = _load("train_throughput")
    argv = ["train_throughput.py", "--data", str(small_mnist_npz), *args]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stopped:
        throughput.main()
    assert stopped.value.code == 2 and fragment in capsys.readouterr().err


def test_sample_throughput_missing_run_is_one_line(tmp_path, monkeypatch, capsys):
    sampler = _load("sample_throughput")
    monkeypatch.setattr(sys, "argv", ["sample_throughput.py", str(tmp_path / "missing")])
    with pytest.raises(SystemExit) as stopped:
        sampler.main()
    assert "missing" in str(stopped.value.code) and "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "script, args",
    [
        ("label_sweep", ["--epochs", "0", "--json", "x.json"]),
        ("label_sweep", ["--alpha", "a,b", "--json", "x.json"]),
        ("cli_latency", ["--repeats", "0"]),
        ("nll_block_profile", ["--cores", "-1"]),
        ("vamp2_step", ["--repeats", "0"]),
        ("m2_agreement", ["RUN", "--images", "0"]),
        ("bf16_matmul", ["--repeats", "0"]),
        ("nll_spread", ["no-such-results.json"]),
        ("nll_figure", ["no-such-results.json", "--out", "nll.png"]),
        ("nll_torch", ["--run", "no-such-run", "--images", "0"]),
        ("seed_runs", ["mlp-vae-z5"]),
        ("seed_runs", ["mlp-vae-z50", "--seeds", "1,,2"]),
    ],
)
def test_a_bad_argument_is_a_usage_error_before_any_work(script, args, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as when run: scripts import their neighbours
    module = _load(script)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *args])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"{script}.py: error:")


def test_seed_runs_plans_only_what_is_left_with_the_cards_own_command(tmp_path, monkeypatch):
    from mnist_vae.runs.pretrained import lookup

    seed_runs = _load("seed_runs")
    monkeypatch.setattr(seed_runs, "RESULTS", tmp_path / "results")
    card = lookup("mlp-vae-z50").card
    trained = tmp_path / "runs" / "vae-b100-burda-s1"  # seed 1 trained, not scored
    trained.mkdir(parents=True)
    (trained / seed_runs.RESULT_MANIFEST).write_text("{}")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "nll-vae-b100-burda-s3.json").write_text("{}")  # seed 3 kept
    steps = seed_runs.plan(card, [1, 2, 3], tmp_path / "runs")
    assert [what for what, _, _ in steps] == [
        "score seed 1", "keep seed 1", "train seed 2", "score seed 2", "keep seed 2",
    ]  # fmt: skip
    train = steps[2][1][len(seed_runs.CLI) :]
    card_words = card["command"].split()[1:]
    assert len(train) == len(card_words)
    changed = [i for i, (a, b) in enumerate(zip(train, card_words, strict=True)) if a != b]
    assert [card_words[i - 1] for i in changed] == ["--seed", "--out"]
    assert train[changed[0]] == "2" and train[changed[1]].endswith("vae-b100-burda-s2")


def test_seed_runs_pools_once_two_seeds_are_kept(tmp_path, monkeypatch):
    seed_runs = _load("seed_runs")
    monkeypatch.setattr(seed_runs, "RESULTS", tmp_path)
    (tmp_path / "nll-vae-b100-burda-s0.json").write_text("{}")
    assert seed_runs.pool_command("vae-b100-burda") is None
    (tmp_path / "nll-vae-b100-burda-s2.json").write_text("{}")
    (tmp_path / "nll-spread-vae-b100-burda.json").write_text("{}")  # never an input
    command = seed_runs.pool_command("vae-b100-burda")
    assert [Path(word).name for word in command[2:]] == [
        "nll-vae-b100-burda-s0.json", "nll-vae-b100-burda-s2.json", "--json",
        "nll-spread-vae-b100-burda.json",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["mlp-vae-z50", "mlp-iwae-k5-z50", "gated-vamp2-z40-40"])
def test_seed_zeros_results_pool_without_their_runs(name):
    """The seed-0 rows that seed_runs.py pools new seeds with carry their seed and recipe
    (nll_spread.py would otherwise need the run, long gone), and the recipe is the
    shipped model's: the same training as the seeds the script trains."""
    from mnist_vae.config import RunConfig
    from mnist_vae.experiments.nll import recipe_of
    from mnist_vae.runs.pretrained import lookup

    seed_runs = _load("seed_runs")
    stem = seed_runs.RESULT_STEMS[name]
    rows = json.loads((seed_runs.RESULTS / f"nll-{stem}-s0.json").read_text())["rows"]
    record = json.loads((lookup(name).folder / "config.json").read_text())
    assert [(row["seed"], row["recipe"]) for row in rows] == [
        (0, recipe_of(RunConfig.from_dict(record)))
    ]


def test_the_sweep_chooses_on_the_training_images_it_did_not_train_on():
    """The validation split is the complement of --train-size's seeded subset: 10,000
    images, disjoint from the 50,000 a point trains on (never the test set)."""
    import numpy as np

    from mnist_vae.data import select_training_set

    sweep = _load("label_sweep")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (600, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 60)
    chosen = select_training_set(images, labels, 500, seed=3)
    held_out = sweep.held_out_indices(images, labels, 500, seed=3)
    assert len(held_out) == 100 and not set(held_out) & set(chosen)
    assert sorted([*held_out, *chosen]) == list(range(600))


def test_label_results_reads_methods_and_keeps_no_machine_path():
    results = _load("label_results")
    name, runs = results.method_runs("M1+M2=runs/a, runs/b")
    assert name == "M1+M2" and [str(run) for run in runs] == ["runs/a", "runs/b"]
    with pytest.raises(Exception, match="NAME=RUN"):
        results.method_runs("runs/a")
    typed = results.typed_command("/some/venv/bin/mnist-vae train --seed 1 --out 'a b'")
    assert typed == "mnist-vae train --seed 1 --out 'a b'"
    runs = [{"test_error": 0.05, "labels": 100}, {"test_error": 0.07, "labels": 100}]
    summary = results.summary("M2", runs)
    assert summary["mean_error_percent"] == 6.0 and summary["std_error_percent"] == 1.41
    assert summary["paper_error_percent"] == 11.97 and summary["labels"] == 100
    longer = results.summary("M1+M2, 150 epochs", [{"test_error": 0.04, "labels": 100}])
    assert longer["paper_error_percent"] == 3.33 and longer["goal_percent"] == 5.0
    more = results.summary("M1+M2, 50 epochs", [{"test_error": 0.03, "labels": 3000}])
    assert more["paper_error_percent"] == 2.18 and more["goal_percent"] is None
    with pytest.raises(SystemExit, match="share their labels"):
        results.summary(
            "M2", [{"test_error": 0.1, "labels": 100}, {"test_error": 0.1, "labels": 600}]
        )


def test_label_results_mixed_budgets_are_a_usage_error_before_scoring(monkeypatch, capsys):
    from types import SimpleNamespace

    import mnist_vae.runs

    results = _load("label_results")
    budgets = {"a": 100, "b": 600}
    monkeypatch.setattr(
        mnist_vae.runs,
        "load_run",
        lambda folder: SimpleNamespace(
            config=SimpleNamespace(train=SimpleNamespace(labels=budgets[folder.name]))
        ),
    )
    monkeypatch.setattr(results, "test_error", lambda folder: pytest.fail("scored"))
    monkeypatch.setattr(sys, "argv", ["label_results.py", "--method", "M2=a,b", "--json", "x"])
    with pytest.raises(SystemExit) as stopped:
        results.main()
    assert stopped.value.code == 2
    assert "share one --labels budget" in capsys.readouterr().err


def test_m2_agreement_missing_run_is_one_line(tmp_path, monkeypatch, capsys):
    agreement = _load("m2_agreement")
    monkeypatch.setattr(sys, "argv", ["m2_agreement.py", str(tmp_path / "missing")])
    with pytest.raises(SystemExit) as stopped:
        agreement.main()
    assert "missing" in str(stopped.value.code) and "Traceback" not in capsys.readouterr().err


def test_m2_agreement_reads_the_bounds_image_major_by_hand():
    """Three images whose lowest bound is under labels 2, 0, 1 (image-major rows, as
    m2's ``bound_rows``), a classifier saying 2, 0, 0 and true labels 2, 1, 1."""
    import numpy as np

    agreement = _load("m2_agreement")
    bounds = np.full((3, 10), 50.0, dtype="float32")
    bounds[0, 2], bounds[1, 0], bounds[2, 1] = 10.0, 20.0, 30.0
    bounds[0, 5] = 14.0  # image 0's runner-up: a gap of 4 nats; the others' gaps 30 and 20

    class Model:
        def bound_terms(self, images):
            rows = bounds[: len(images)].reshape(-1)
            return {"row_reconstruction": rows - 1.0, "row_kl": np.ones_like(rows)}

        def classify(self, images):
            return np.array([2, 0, 0])[: len(images)]

    result = agreement.agreement(Model(), np.zeros((3, 28, 28, 1)), np.array([2, 1, 1]))
    assert result["classifier_error"] == pytest.approx(2 / 3)
    assert result["generative_error"] == pytest.approx(1 / 3)  # image 1: label 0, not 1
    assert result["agreement"] == pytest.approx(2 / 3)  # images 0 and 1
    assert result["median_gap_nats"] == pytest.approx(20.0)
    assert result["top_confusions"] == [{"true": 1, "predicted": 0, "count": 2}]


def test_vamp2_steps_sliced_gated_layer_computes_what_the_split_one_does():
    """The slices the benchmark times against are the same layer, not another one."""
    import numpy as np

    from mnist_vae.zoo.layers import GatedDense

    layer = GatedDense(5)
    inputs = np.random.default_rng(0).normal(size=(3, 7)).astype("float32")
    split = np.asarray(layer(inputs))
    sliced = np.asarray(_load("vamp2_step").sliced_call(layer, inputs))
    np.testing.assert_allclose(sliced, split, rtol=1e-6, atol=1e-7)


def test_bf16_split_products_approach_the_float32_product():
    """Each extra split product buys accuracy: one bfloat16 product is ~3e-3 off, three
    are ~1e-5, six ~1e-6, against the float64 product of the same float32 matrices."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = np.tanh(rng.normal(size=(6, 200))).astype("float32")
    b = (rng.normal(size=(200, 9)) * 0.1).astype("float32")
    exact = a.astype("float64") @ b.astype("float64")
    error = {
        name: np.abs(np.asarray(multiply(a, b)) - exact).max() / np.abs(exact).max()
        for name, multiply in _load("bf16_matmul").ways().items()
    }
    assert 5e-4 < error["bfloat16 x1"] < 1e-2
    assert 1e-7 < error["bfloat16 x3"] < 2e-5
    assert error["bfloat16 x6"] < 4e-6 and error["float32"] < 4e-6


def test_nll_spread_pools_seeds_scored_in_separate_results(tmp_path, one_epoch_run, capsys):
    from mnist_vae.experiments.nll import recipe_of

    spread_script = _load("nll_spread")
    run = one_epoch_run("vae")
    recipe = recipe_of(run.config)
    fields = {"strategy": "vae", "options": {}, "iw_samples": 5000, "test_images": 10_000}
    # A results file written before results named canonical MNIST without its path.
    by_path = {"data": "MNIST_VAE_DATA=mnist.npz (canonical MNIST, hashes verified)"}
    hashes = {"train_sha256": "a" * 64, "test_sha256": "b" * 64}
    canonical = {"data": "MNIST (canonical, hashes verified)", "data_identity": hashes}

    def results(name, data, **row):
        path = tmp_path / name
        path.write_text(json.dumps({**data, "rows": [{**fields, **row}]}))
        return str(path)

    files = [
        # written before rows carried seed and recipe: both come from the run's config (seed 0)
        results("s0.json", by_path, run=str(run.path), nll=86.0),
        results("s1.json", by_path, run="a", recipe=recipe, seed=1, nll=86.5),
        results("s2.json", canonical, run="b", recipe=recipe, seed=2, nll=87.0),
    ]
    out = tmp_path / "spread.json"
    spread_script.main([*files, "--json", str(out)])
    (spread,) = json.loads(out.read_text())["spread"]
    assert spread["seeds"] == [0, 1, 2] and spread["nll_std"] == pytest.approx(0.5)
    assert "vae: 86.50 ± 0.50 nats over seeds 0, 1, 2" in capsys.readouterr().out

    def fashion(name, test_hash):
        data = {"data": "f.npz", "data_identity": {**hashes, "test_sha256": test_hash * 64}}
        return results(name, data, run="f", recipe="r", seed=3, nll=1.0)

    for pair in (
        [files[2], fashion("f1.json", "b")],
        [fashion("f1.json", "b"), fashion("f2.json", "c")],
    ):
        with pytest.raises(SystemExit, match="different test data"):
            spread_script.main(pair)
    (tmp_path / "bad.json").write_text("[1, 2")
    (tmp_path / "plain.json").write_text("{}")
    with pytest.raises(SystemExit, match=r"not a benchmark nll results\.json"):
        spread_script.main([str(tmp_path / "bad.json")])
    with pytest.raises(SystemExit, match=r"not a benchmark nll results\.json"):
        spread_script.main([str(tmp_path / "plain.json")])
    with pytest.raises(SystemExit, match="no seed and recipe"):
        spread_script.main([results("gone.json", by_path, run="gone", nll=1.0)])


def test_nll_figure_quotes_todays_anchors_not_the_ones_rows_were_scored_with(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    figure_script = _load("nll_figure")
    mlp = {"architecture": "mlp", "latent_dim": 50, "binarize": "dynamic", "options": {}}
    first = {
        "data": "canonical MNIST (MNIST_VAE_DATA); test set binarized once with seed 0",
        "rows": [
            # scored when the VampPrior row quoted a static-MNIST figure
            {**mlp, "strategy": "vamp", "iw_samples": 5000, "nll": 86.4, "anchor": ["x", 85.6]},
            {**mlp, "strategy": "vae", "iw_samples": 5000, "nll": 90.0, "anchor": None},
        ],
    }
    later = {
        "data": "MNIST (canonical, hashes verified)",
        "rows": [{**mlp, "strategy": "iwae", "iw_samples": 5000, "nll": 85.6, "epochs": 3280}],
    }
    paths = []
    for name, results in (("first.json", first), ("later.json", later)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(results))
    rows = figure_script.rows_with_todays_anchors(paths)
    assert [row["anchor"] and row["anchor"][1] for row in rows] == [None, 86.76, 85.54]
    figure_script.main([*map(str, paths), "--out", str(tmp_path / "nll.png")])
    assert (tmp_path / "nll.png").stat().st_size > 0
    assert "3 models, 2 with a paper figure" in capsys.readouterr().out
    later["rows"][0]["iw_samples"] = 100
    paths[1].write_text(json.dumps(later))
    with pytest.raises(SystemExit, match=r"different K \(\[100, 5000\]\)"):
        figure_script.main([*map(str, paths), "--out", str(tmp_path / "nll.png")])


def test_a_shipped_command_is_typed_as_a_user_would_and_names_no_path():
    ship = _load("ship_pretrained")
    recorded = ".venv/bin/mnist-vae train --strategy vamp2 --epochs 1000 --out runs/vamp2-s0"
    assert ship.shipped_command(recorded, "mlp-vamp2") == (
        "mnist-vae train --strategy vamp2 --epochs 1000 --out runs/mlp-vamp2"
    )
    assert ship.shipped_command("mnist-vae train --seed 1", "a") == (
        "mnist-vae train --seed 1 --out runs/a"
    )
    for named in ("--data /data/mnist.npz", "--m1-run /runs/m1"):
        with pytest.raises(SystemExit, match="names a path"):
            ship.shipped_command(f"mnist-vae train {named}", "a")
