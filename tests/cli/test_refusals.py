"""Inputs a command must refuse in one line before any work, found by an audit of every
command's flags: each case once did the work first, or printed more than one line."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import (
    assert_one_line_error,
    data_out,
    invoke,
    never_called,
    tiny_train_args,
)


@pytest.mark.parametrize("out", ["", "."])
def test_an_output_without_a_name_of_its_own_is_refused(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)  # "" and "." are this empty folder itself
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    result = invoke("train", "--out", out)
    assert_one_line_error(result, 2, "names no new file or folder")
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_a_link_to_nothing_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    (tmp_path / "run").symlink_to(tmp_path / "gone" / "run")
    result = invoke("train", "--out", tmp_path / "run")
    assert_one_line_error(result, 2, "is a link to", "which does not exist")


def test_a_path_longer_than_the_file_system_takes_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    deep = tmp_path.joinpath(*["d" * 200] * 22)  # each name fits; the whole path does not
    for command in (["train", "--out", deep], ["sample", "pretrained:net1-report", "--out", deep]):
        assert_one_line_error(invoke(*command), 2, "choose a shorter one")


def test_empty_values_are_refused_not_read_as_their_default(tmp_path, monkeypatch):
    from mnist_vae.cli import pretrained

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pretrained, "run_mnist_vae", never_called)
    npy = invoke("sample", "pretrained:net1-report", "--out", "a.png", "--npy", "")
    assert_one_line_error(npy, 2, "--npy is empty")
    (tmp_path / "mine.txt").write_text("a user's")  # --out "" is this folder, not runs/NAME
    reproduce = invoke("pretrained", "--reproduce", "net1-report", "--out", "")
    assert_one_line_error(reproduce, 2, "is not empty; choose another --out")
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == ["a.png"] or not (tmp_path / "runs").exists()
    )


def test_a_training_cannot_overwrite_the_run_it_trains_on(
    tmp_path, monkeypatch, one_epoch_run, small_mnist_npz
):
    """``--out M1 --overwrite`` would replace the M1 that ``--m1-run M1`` reads."""
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    m1 = tmp_path / "m1"
    shutil.copytree(one_epoch_run("vae").path, m1)
    m1_m2 = ["--strategy", "m1_m2", "--m1-run", m1, "--labels", 10, "--overwrite"]
    result = invoke(*tiny_train_args(small_mnist_npz, m1, *m1_m2))
    assert_one_line_error(result, 2, f"--out {m1} holds {m1}", "(--m1-run)")
    assert (m1 / "model.keras").is_file()


def test_an_export_inside_its_run_is_refused(tmp_path, one_epoch_run):
    run = tmp_path / "run"
    shutil.copytree(one_epoch_run("vae").path, run)
    result = invoke("export", run, "--out", run / "exported")
    assert_one_line_error(result, 2, "is inside the run", "outside the run")
    assert not (run / "exported").exists()


def test_benchmark_nll_measures_each_strategy_and_run_once(tmp_path, small_mnist_npz):
    twice = invoke("benchmark", "nll", "--strategies", "vae,vae", "--out", tmp_path / "o")
    assert_one_line_error(twice, 2, "strategies must be distinct")
    runs = ["--run", "pretrained:net1-report", "--run", "pretrained:net1-report"]
    result = invoke(
        "benchmark", "nll", "--strategies", "", *runs, *data_out(small_mnist_npz, tmp_path / "p")
    )
    assert_one_line_error(result, 2, "gives one run twice")
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--beta", "1e300"],
        ["train", "--lr", "nan"],
        ["sample", "pretrained:net1-report", "--class", "3", "--noise-variance", "inf"],
    ],
)
def test_numbers_a_float32_model_cannot_use_are_refused(tmp_path, monkeypatch, command):
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    result = invoke(*command, "--out", tmp_path / "out.png")
    assert_one_line_error(result, 2, "is not a finite number of float32 size")


def test_an_unwritable_keras_home_is_named_with_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "a-file"))
    result = invoke("sample", "pretrained:net1-report", "--out", tmp_path / "s.png")
    assert_one_line_error(result, 2, "set KERAS_HOME to a folder you can write in")


@pytest.mark.parametrize("group", [[], ["benchmark"]])
def test_a_group_without_a_command_prints_its_help_not_an_error(group):
    result = invoke(*group)
    assert result.exit_code == 2
    assert result.output.startswith(f"Usage: mnist-vae {' '.join(group)}".rstrip())
    assert "Error" not in result.output and "--help')" not in result.output


@pytest.mark.parametrize(("record", "content"), [("metrics.json", "[1]"), ("config.json", "null")])
def test_a_run_whose_records_are_not_objects_is_called_damaged_before_any_work(
    tmp_path, monkeypatch, one_epoch_run, record, content
):
    """Once an "unexpected" error, for evaluate after its whole importance-sampled pass."""
    monkeypatch.setattr("mnist_vae.evaluation.iwae.iwae_negative_log_likelihood", never_called)
    run = tmp_path / "run"
    shutil.copytree(one_epoch_run("vae").path, run)
    (run / record).write_text(content)
    for command in (["evaluate", run], ["compare", run]):
        assert_one_line_error(invoke(*command), 1, f"{run / record} holds", "the run is damaged")


def test_an_empty_tensorboard_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    result = invoke("train", "--tensorboard", "", "--out", tmp_path / "run")
    assert_one_line_error(result, 2, "--tensorboard is empty")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["train", "--epochs", "abc"], "'abc' is not a whole number"),
        (["train", "--lr", "abc"], "'abc' is not a number"),
        (["train", "--option", "kl-warmup-epochs=1"], "written with underscores (kl_warmup"),
        (["sample", "pretrained:net1-report", "--out", "a.png/x.png"], "a.png is a file, not"),
    ],
)
def test_bad_values_are_named_in_plain_words(tmp_path, monkeypatch, command, said):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_text("")
    monkeypatch.setattr("mnist_vae.training.train", never_called)
    assert_one_line_error(invoke(*command), 2, said)


def test_output_bias_mean_on_a_decoder_without_one_is_refused_before_the_data(
    tmp_path, monkeypatch, small_mnist_npz
):
    monkeypatch.setattr("mnist_vae.training.trainer.load_mnist", never_called)  # a download
    options = ["--output-bias", "mean", "--arch", "net1"]
    result = invoke(*tiny_train_args(small_mnist_npz, tmp_path / "run", *options))
    assert_one_line_error(result, 2, "needs a decoder whose last layer has one bias per pixel")
    assert list(tmp_path.iterdir()) == []
