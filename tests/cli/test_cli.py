"""The command line, through click's CliRunner: errors first, then real runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from tests.helpers import (
    QUIET,
    TINY_TRAINING,
    assert_one_line_error,
    data_out,
    invoke,
    sampled,
    tiny_train_args,
)


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("train", "sample", "zoo", "data"):
        assert command in result.output


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--arch", "nett1"], ["unknown architecture 'nett1'", "did you mean 'net1'"]),
        (["--strategy", "vea"], ["unknown strategy 'vea'", "'vae'"]),
        (["--encoder", "net5"], ["unknown encoder 'net5'"]),
        (["--likelihood", "poisson"], ["unknown likelihood 'poisson'"]),
        (["--optimizer", "adamw"], ["unknown optimizer 'adamw'", "adam"]),
        (["--epochs", "0"], ["--epochs", "0"]),
        (["--latent-dim", "-1"], ["--latent-dim", "-1"]),
        (["--lr", "0"], ["--lr"]),
        (["--train-size", "0"], ["--train-size"]),
        (["--train-size", "lots"], ["--train-size", "lots"]),
        (["--data", "no/such/file.npz"], ["--data", "does not exist"]),
    ],
)
def test_usage_errors_exit_2_in_one_line(args, fragments, tmp_path):
    result = invoke("train", *args, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", [b"not an archive", b"PK\x03\x04truncated"])
def test_unreadable_data_file_exits_2(tmp_path, content):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(content)
    result = invoke("train", "--data", bad, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, str(bad))
    assert not (tmp_path / "run").exists()


def test_directory_without_idx_files_exits_2(tmp_path):
    result = invoke("train", "--data", tmp_path, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, "no IDX file")


def test_train_size_larger_than_the_data_exits_2(tmp_path, small_mnist_npz):
    result = invoke(
        "train", "--data", small_mnist_npz, "--train-size", 601, "--out", tmp_path / "run"
    )
    assert_one_line_error(result, 2, "exceeds the 600 training images", alone=False)
    assert not (tmp_path / "run").exists()


def test_existing_output_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    result = invoke("train", "--out", out)
    assert_one_line_error(result, 2, "not empty", "--overwrite")
    assert (out / "keep.txt").read_text() == "precious"


def test_unexpected_errors_are_one_line_unless_debug(tmp_path, small_mnist_npz, monkeypatch):
    import mnist_vae.training

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(mnist_vae.training, "train", explode)
    args = ["train", "--data", small_mnist_npz, "--out", tmp_path / "run"]
    assert_one_line_error(invoke(*args), 1, "unexpected RuntimeError: disk on fire", "--debug")
    debug = CliRunner().invoke(cli, [*map(str, args), "--debug"])
    assert debug.exit_code == 1 and isinstance(debug.exception, RuntimeError)


@pytest.mark.parametrize("usage", [False, True])
def test_debug_shows_the_traceback_of_mnist_vaes_own_errors(tmp_path, usage):
    """--debug lets a RunError (exit 1) or a ConfigError (a usage error, exit 2) through
    whole, as MNIST_VAE_DEBUG=1 does, instead of the one-line message."""
    from mnist_vae.errors import ConfigError, RunError

    if usage:
        (tmp_path / "c.toml").write_text("[train]\nepoch = 3\n")
        args, kind, code = ["train", "--config", tmp_path / "c.toml"], ConfigError, 2
    else:
        args, kind, code = ["sample", tmp_path / "missing"], RunError, 1
    assert_one_line_error(invoke(*args), code)
    for debug in (invoke(*args, "--debug"), invoke(*args, env={"MNIST_VAE_DEBUG": "1"})):
        assert isinstance(debug.exception, kind), debug.output
        assert "Error:" not in debug.output, debug.output


@pytest.mark.slow  # in-process: test_debug_shows_the_traceback_...
def test_debug_prints_the_traceback_in_a_real_process(tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "-m", "mnist_vae.cli.main", "sample", str(tmp_path / "missing")]
    plain = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr, plain.stderr
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=120)
    assert "Traceback (most recent call last)" in debug.stderr, debug.stderr
    assert "RunError" in debug.stderr.splitlines()[-1], debug.stderr


def test_sample_errors(tmp_path):
    assert_one_line_error(invoke("sample", tmp_path / "missing"), 1, "no such run directory")
    (tmp_path / "notarun").mkdir()
    assert_one_line_error(invoke("sample", tmp_path / "notarun"), 1, "not a complete mnist-vae run")


def test_zoo_lists_architectures_with_parameter_counts():
    result = invoke("zoo")
    assert result.exit_code == 0, result.output
    assert "net1" in result.output and "25,089" in result.output and "403,972" in result.output
    listing = json.loads(invoke("zoo", "--json", "--latent-dim", "16").output)
    names = {row["name"]: row for row in listing["architectures"]}
    assert set(names) >= {"net1", "net2", "net3", "net4", "resconv"}
    assert names["net2"]["decoder_params"] == 105_921


def test_data_command_says_where_the_data_came_from(small_mnist_npz):
    result = invoke("data", "--data", small_mnist_npz)
    assert result.exit_code == 0, result.output
    assert str(small_mnist_npz) in result.output and "600 train / 200 test" in result.output


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, small_mnist_npz):
    """One real (tiny) training run through the CLI, shared by the tests below."""
    out = tmp_path_factory.mktemp("runs") / "net1"
    training = ["--arch", "net1", "--epochs", "2", "--train-size", "300", "--batch-size", "100"]
    result = CliRunner().invoke(
        cli, ["train", *training, "--seed", "3", *data_out(small_mnist_npz, out)]
    )
    assert result.exit_code == 0, result.output
    return out, result


def test_train_writes_a_complete_run(trained_run):
    from mnist_vae.runs import load_run

    out, result = trained_run
    assert "test negative ELBO" in result.output
    run = load_run(out)
    assert run.config.model.architecture == "net1" and run.config.train.train_size == 300
    assert run.config.train.seed == 3 and run.config.train.epochs == 2
    assert run.record["data"]["train_images"] == 300
    assert run.record["versions"]["tensorflow"] not in ("", "not installed")
    test = run.metrics["test"]
    assert test["negative_elbo"] == pytest.approx(test["reconstruction"] + test["kl"], rel=1e-4)
    assert 50 < test["negative_elbo"] < 600
    history = run.history()
    assert len(history["loss"]) == 2 and "val_loss" in history
    for name in ("latent", "reconstructions", "samples", "latent_grid", "loss"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 5_000
    assert run.digit_means().shape == (10, 2)
    assert not list(out.parent.glob(".*partial"))


def test_sample_from_the_prior_and_around_a_digit(trained_run, tmp_path):
    out, _ = trained_run
    png, npy = tmp_path / "s.png", tmp_path / "s.npy"
    result = invoke("sample", out, "--count", 12, "--seed", 5, "--out", png, "--npy", npy)
    assert result.exit_code == 0, result.output
    images = np.load(npy)
    assert images.shape == (12, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0 and png.stat().st_size > 1_000

    again = tmp_path / "again.npy"
    assert (
        invoke(
            "sample", out, "--count", 12, "--seed", 5, "--out", tmp_path / "a.png", "--npy", again
        ).exit_code
        == 0
    )
    np.testing.assert_array_equal(np.load(again), images)

    digit = tmp_path / "three.npy"
    result = invoke(
        "sample",
        out,
        "--digit",
        3,
        "--count",
        12,
        "--seed",
        5,
        "--out",
        tmp_path / "t.png",
        "--npy",
        digit,
    )
    assert result.exit_code == 0, result.output
    assert not np.array_equal(np.load(digit), images)


def test_sample_default_output_goes_into_the_run_and_refuses_to_overwrite(trained_run):
    out, _ = trained_run
    first = invoke("sample", out, "--digit", 7, "--count", 4, "--seed", 9)
    assert first.exit_code == 0, first.output
    target = out / "samples" / "digit7-s9.png"
    assert target.exists()
    before = target.read_bytes()
    assert_one_line_error(
        invoke("sample", out, "--digit", 7, "--count", 4, "--seed", 9), 2, "already exists"
    )
    assert target.read_bytes() == before
    assert (
        invoke("sample", out, "--digit", 7, "--count", 4, "--seed", 9, "--overwrite").exit_code == 0
    )


def test_sample_rejects_a_digit_out_of_range(trained_run):
    out, _ = trained_run
    assert_one_line_error(invoke("sample", out, "--digit", 12), 2, "--digit")


def test_zoo_survives_a_broken_builder():
    from mnist_vae.registry import encoders

    def broken(latent_dim):
        """A plugin encoder with a bug."""
        raise NotImplementedError("not yet")

    with encoders.temporary(broken):
        result = invoke("zoo")
        listing = invoke("zoo", "--json")
    assert result.exit_code == 0, result.output
    assert "broken" in result.output and "NotImplementedError" in result.output
    rows = {row["name"]: row for row in json.loads(listing.output)["encoders"]}
    assert rows["broken"]["params"] is None and "not yet" in rows["broken"]["error"]
    assert rows["net1"]["params"] == 31_364


def test_encoder_and_decoder_without_arch_record_no_architecture(tmp_path, small_mnist_npz):
    from mnist_vae.runs import load_run

    out = tmp_path / "mixed"
    args = tiny_train_args(small_mnist_npz, out, "--encoder", "net4", "--decoder", "net2")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    model = load_run(out).config.model
    assert (model.architecture, model.encoder, model.decoder) == (None, "net4", "net2")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--gamma", "0.5"], ["option gamma does not apply to strategy 'vae'"]),
        (["--strategy", "vaegan", "--task-weight", "2"], ["option task_weight does not apply"]),
        (["--strategy", "vaegan", "--option", "gama=2"], ["option gama does not apply", "gamma"]),
        (["--strategy", "vaegan", "--option", "gamma"], ["'gamma' is not NAME=VALUE"]),
        (["--strategy", "vaegan", "--option", "gamma=-1"], ["--gamma must be >= 0"]),
        (
            ["--strategy", "vaegan", "--feature-layer", "9"],
            ["--feature-layer 9 is past discriminator"],
        ),
        (["--strategy", "vaegan", "--discriminator", "dcgann"], ["did you mean 'dcgan'"]),
        (["--strategy", "classifier", "--task-mode", "pixels"], ["--task-mode"]),
        (["--strategy", "classifier", "--classifier-weights", "missing.keras"], ["no such file"]),
    ],
)
def test_strategy_option_errors_exit_2(tmp_path, small_mnist_npz, args, fragments):
    result = invoke("train", *args, "--data", small_mnist_npz, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, *fragments, alone=False)
    assert not (tmp_path / "run").exists()


# Each strategy's options and length: vaegan's second epoch is its first adversarial one;
# figures only where the test reads one (cvae's digits_by_style.png). EVERY_STRATEGY's
# options are the same for all.
STRATEGY_OPTIONS = {
    "vaegan": ["--pixel-warmup", "1", "--epochs", "2", "--no-figures"],
    "classifier": ["--task-mode", "features", "--epochs", "1", "--no-figures"],
    "cvae": ["--epochs", "1"],
}
EVERY_STRATEGY = ["--train-size", "100", "--batch-size", "50", "--quiet"]


@pytest.fixture(scope="module")
def strategy_run(tmp_path_factory, small_mnist_npz):
    """A strategy's tiny CLI run (STRATEGY_OPTIONS), trained on first use, then shared."""
    folder = tmp_path_factory.mktemp("strategies")
    runs = {}

    def trained(strategy: str):
        if strategy not in runs:
            out = folder / strategy
            options = ["--strategy", strategy, *STRATEGY_OPTIONS[strategy], *EVERY_STRATEGY]
            runs[strategy] = (out, invoke("train", *options, *data_out(small_mnist_npz, out)))
        return runs[strategy]

    return trained


@pytest.mark.parametrize(
    ("strategy", "extra_file"),
    [
        ("vaegan", "discriminator.keras"),
        ("classifier", "classifier.keras"),
        ("cvae", "figures/digits_by_style.png"),
    ],
)
def test_each_strategy_trains_and_samples_from_the_cli(
    tmp_path, strategy_run, strategy, extra_file
):
    from mnist_vae.runs import load_run

    out, result = strategy_run(strategy)
    assert result.exit_code == 0, result.output
    run = load_run(out)
    assert run.config.model.strategy == strategy and (out / extra_file).exists()
    assert np.isfinite(run.metrics["test"]["negative_elbo"])
    assert sampled(out, tmp_path, "--digit", 7).shape == (6, 28, 28)


def test_a_classifier_run_can_seed_a_frozen_classifier(tmp_path, small_mnist_npz, strategy_run):
    from mnist_vae.runs import load_run

    first_run, trained = strategy_run("classifier")  # the classifier run of the test above
    assert trained.exit_code == 0, trained.output
    base = ["--strategy", "classifier", *TINY_TRAINING, "--data", small_mnist_npz, *QUIET]
    weights = first_run / "classifier.keras"
    result = invoke("train", *base, "--classifier-weights", weights, "--out", tmp_path / "second")
    assert result.exit_code == 0, result.output
    first = load_run(first_run).load_model().classifier.get_weights()
    second = load_run(tmp_path / "second").load_model().classifier.get_weights()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_divergence_within_one_epoch_is_reported_and_nothing_written(tmp_path, small_mnist_npz):
    args = tiny_train_args(small_mnist_npz, tmp_path / "run", "--lr", "1e30")
    assert_one_line_error(invoke(*args), 1, "training diverged", "lower --lr", alone=False)
    assert not (tmp_path / "run").exists()


def test_a_run_from_a_newer_format_is_refused_in_one_line(trained_run, tmp_path):
    import shutil

    newer = tmp_path / "newer"
    shutil.copytree(trained_run[0], newer)
    record = json.loads((newer / "config.json").read_text())
    record["mnist_vae_run"] = 99
    record["versions"]["mnist-vae"] = "9.0.0"
    (newer / "config.json").write_text(json.dumps(record))
    result = invoke("sample", newer, "--out", tmp_path / "s.png")
    assert_one_line_error(result, 1, "format 99", "mnist-vae 9.0.0", "upgrade mnist-vae")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_model_file_is_named_as_damaged_not_as_a_missing_plugin(
    trained_run, tmp_path, damage
):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_run[0], broken)
    model = broken / "model.keras"
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00" * 4096)
    result = invoke("sample", broken, "--out", tmp_path / "s.png")
    assert_one_line_error(result, 1, "model.keras is damaged")
    assert "plugin" not in result.output


def test_overwrite_replaces_only_earlier_results(trained_run, tmp_path):
    """--overwrite never deletes an unrelated folder, nor the run being exported."""
    folder = tmp_path / "holiday-photos"
    folder.mkdir()
    (folder / "beach.jpg").write_bytes(b"\xff\xd8")
    result = invoke("export", trained_run[0], "--out", folder, "--overwrite")
    assert_one_line_error(result, 2, "is not an mnist-vae result")
    assert (folder / "beach.jpg").exists()
    itself = invoke("export", trained_run[0], "--out", trained_run[0], "--overwrite")
    assert_one_line_error(itself, 2, "would replace the run")
    assert (trained_run[0] / "model.keras").exists()


def test_sample_refuses_one_file_for_both_the_png_and_the_array(trained_run, tmp_path):
    target = tmp_path / "both.png"
    result = invoke("sample", trained_run[0], "--out", target, "--npy", target)
    assert_one_line_error(result, 2, "--out and --npy are both")
    assert not target.exists()


def test_sample_npy_must_be_an_npy_file_not_a_runs_own(trained_run, tmp_path):
    latent = trained_run[0] / "latent.json"
    before = latent.read_bytes()
    out = tmp_path / "z.png"
    result = invoke("sample", trained_run[0], "--npy", latent, "--out", out, "--overwrite")
    assert_one_line_error(result, 2, "--npy", "must end in .npy")
    assert latent.read_bytes() == before and not out.exists()


def test_sample_refuses_a_non_image_out_before_any_work(trained_run, tmp_path):
    result = invoke("sample", trained_run[0], "--out", tmp_path / "samples.txt")
    assert_one_line_error(result, 2, "an image file is needed", ".png")
    assert not (tmp_path / "samples.txt").exists()


def test_version_names_what_it_runs_on():
    from importlib import metadata

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert f"TensorFlow {metadata.version('tensorflow')}" in result.output
    assert f"Keras {metadata.version('keras')}" in result.output


def test_a_run_without_figures_is_complete_and_says_so(tmp_path, small_mnist_npz):
    out = tmp_path / "plain"
    trained = invoke(*tiny_train_args(small_mnist_npz, out, "--latent-dim", 3))
    assert trained.exit_code == 0, trained.output
    assert not (out / "figures").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["figures"] is False
    means = json.loads((out / "latent.json").read_text())["digit_means"]
    assert len(means) == 10 and all(len(mean) == 3 for mean in means if mean is not None)
    png = tmp_path / "threes.png"
    assert invoke("sample", out, "--digit", 3, "--count", 4, "--out", png).exit_code == 0
    assert png.is_file()
    from mnist_vae.config import TrainConfig
    from mnist_vae.errors import ConfigError

    with pytest.raises(ConfigError, match="figures must be true or false"):
        TrainConfig(figures="no")
