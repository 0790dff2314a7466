"""The shipped models: every card re-checked, and pretrained:NAME wherever a run goes."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from mnist_vae.errors import RunError, UnknownNameError
from mnist_vae.evaluation.cards import CARD_KEYS, check_score
from mnist_vae.runs import load_pretrained, load_run
from mnist_vae.runs import pretrained as pretrained_runs
from mnist_vae.runs.compact import HALF_TOLERANCE
from mnist_vae.runs.format import REQUIRED_FILES
from mnist_vae.runs.pretrained import (
    PretrainedCopyWarning,
    cache_root,
    catalogue,
    run_path,
    sha256,
)
from tests.helpers import (
    ROOT,
    assert_last_line_error,
    assert_one_line_error,
    invoke,
    never_called,
    nll_of_run,
    tiny_train_args,
)

SHIPPED = sorted(catalogue())
FIRST = "net1-report" if "net1-report" in SHIPPED else SHIPPED[0]  # the commands' example


def test_models_are_shipped_and_the_wheel_carries_them():
    assert SHIPPED, "no pretrained models in mnist_vae/pretrained"
    from mnist_vae.runs.pretrained import SHIPPED as FOLDER

    # The wheel deflates each file as this does; the code adds about 1 MB.
    packed = sum(
        len(zlib.compress(path.read_bytes(), 6)) for path in FOLDER.rglob("*") if path.is_file()
    )
    assert packed < 36e6  # so the wheel stays under 40 MB


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_matches_its_card(name, mnist):
    model = catalogue()[name]
    card = model.card
    assert set(CARD_KEYS) <= set(card) and card["name"] == name
    for file, expected in card["sha256"].items():
        assert sha256(model.folder / file) == expected, file
    assert "model.keras" in card["sha256"]
    storage = card["storage"]  # rounded to float16 only where that moved the check < 0.01
    assert storage["optimizer_state"] is False and storage["weights"] in (
        "float32",
        "float16-rounded",
    )
    shift = abs(storage["check_float16_rounded"] - storage["check_float32"])
    assert (shift < HALF_TOLERANCE) == (storage["weights"] == "float16-rounded")
    # No path of the machine that trained it: the command is a user's, the data named
    # by its hashes.
    command = shlex.split(card["command"])
    assert command[:2] == ["mnist-vae", "train"] and "--data" not in command
    assert not [token for token in command if token.startswith("/")], command
    record = json.loads((model.folder / "config.json").read_text())
    assert record["train"]["data"] is None and record["data"]["canonical_mnist"] is True
    assert record["data"]["source"] == card["data"] == "MNIST (canonical, hashes verified)"
    # The check score, again on this machine: the same images, K and seed, with the
    # model that mnist_vae.load_pretrained returns, which then samples.
    run = load_run(f"pretrained:{name}")
    loaded = load_pretrained(name)
    assert check_score(run, mnist, loaded) == pytest.approx(card["check"]["nll"], abs=1e-3)
    images = np.asarray(loaded.sample(4, seed=0))
    assert images.shape == (4, 28, 28, 1) and np.isfinite(images).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_every_cards_numbers_are_its_shipped_runs(name, mnist):
    """The card's figures are the run's own (metrics.json, config.json), and a shipped
    semi-supervised classifier's test error is measured again on the 10,000 test images."""
    import math

    from mnist_vae.data import to_float_images

    model = catalogue()[name]
    card = model.card
    metrics = json.loads((model.folder / "metrics.json").read_text())
    record = json.loads((model.folder / "config.json").read_text())
    assert card["negative_elbo"] == metrics["test"]["negative_elbo"]
    assert card["classifier_error"] == metrics["test"].get("classifier_error")
    assert card["train_seconds"] == metrics["train_seconds"]
    assert (card["epochs"], card["batch_size"]) == (
        record["train"]["epochs"],
        record["train"]["batch_size"],
    )
    steps = math.ceil(record["data"]["train_images"] / card["batch_size"])
    assert card["updates"] == steps * card["epochs"]
    model_record = record["model"]
    assert (card["latent_dim"], card["top_latent_dim"]) == (
        model_record["latent_dim"],
        model_record["options"].get("top_latent_dim"),
    )
    if card["strategy"] in ("m2", "m1_m2"):
        loaded = load_pretrained(name)
        scores = loaded.extra_test_metrics(to_float_images(mnist.x_test), mnist.y_test)
        error = scores["classifier_error"]
        assert error == pytest.approx(card["classifier_error"], abs=2e-4)


def test_pretrained_opens_a_checked_copy_and_replaces_a_changed_one():
    folder = run_path(f"pretrained:{FIRST}")
    assert folder == cache_root() / FIRST and (folder / "card.json").is_file()
    assert os.environ["KERAS_HOME"] in str(folder)  # the test's own, not the user's
    stamp = (folder / "model.keras").stat().st_mtime_ns
    assert run_path(f"pretrained:{FIRST}") == folder  # reused, not copied again
    assert (folder / "model.keras").stat().st_mtime_ns == stamp
    (folder / "model.keras").write_bytes(b"changed by hand")
    run_path(f"pretrained:{FIRST}")  # only shipped files in it: replaced, no note
    assert sha256(folder / "model.keras") == catalogue()[FIRST].card["sha256"]["model.keras"]
    assert sorted(p.name for p in folder.parent.iterdir()) == [FIRST]
    shipped = catalogue()[FIRST].folder
    for record in ("latent.json", "config.json"):  # records are checked too, not only weights
        (folder / record).write_text('{"edited": "by hand"}')
        run_path(f"pretrained:{FIRST}")
        assert (folder / record).read_bytes() == (shipped / record).read_bytes()
    # Changed again, now holding what was added to it: moved aside, never deleted.
    (folder / "samples").mkdir()
    (folder / "samples" / "mine.png").write_bytes(b"png")
    (folder / "model.keras").write_bytes(b"changed by hand")
    with pytest.warns(PretrainedCopyWarning, match="moved to"):
        run_path(f"pretrained:{FIRST}")
    aside = [p for p in folder.parent.iterdir() if p.name.startswith(f"{FIRST}.replaced-")]
    assert len(aside) == 1 and (aside[0] / "samples" / "mine.png").read_bytes() == b"png"
    assert sha256(folder / "model.keras") == catalogue()[FIRST].card["sha256"]["model.keras"]
    shutil.rmtree(aside[0])


def test_an_unknown_name_lists_close_matches():
    with pytest.raises(UnknownNameError, match=f"did you mean '{FIRST}'"):
        load_run(f"pretrained:{FIRST[:-1]}x")


def test_the_cli_lists_the_cards():
    listed = invoke("pretrained", "--json")
    assert listed.exit_code == 0, listed.output
    cards = json.loads(listed.output)
    assert [card["name"] for card in cards] == SHIPPED
    table = invoke("pretrained")
    assert table.exit_code == 0 and FIRST in table.output
    from mnist_vae.runs.pretrained import markdown_table

    markdown = invoke("pretrained", "--markdown")
    assert markdown.exit_code == 0 and markdown.output.strip() == markdown_table(cards)
    docs = (ROOT / "docs" / "zoo.md").read_text()
    shown = docs.split("<!-- pretrained-table:start -->")[1].split("<!-- pretrained-table:end")[0]
    assert shown.strip() == markdown_table(cards), "docs/zoo.md: paste 'pretrained --markdown'"


# The commands' plumbing is one for every model: the default suite runs them on the
# first, ``make test-all`` on every shipped model.
EVERY_MODEL = [FIRST, *[pytest.param(n, marks=pytest.mark.slow) for n in SHIPPED if n != FIRST]]


@pytest.mark.parametrize("shipped", EVERY_MODEL)
def test_pretrained_goes_wherever_a_run_goes(shipped, tmp_path, small_mnist_npz):
    # Scored on the 200-image slice (kept beside the run's own evaluation, as other
    # data always is): the commands open pretrained:NAME as they open a run.
    name = f"pretrained:{shipped}"
    png = tmp_path / "s.png"
    assert invoke("sample", name, "--count", 8, "--out", png).exit_code == 0 and png.is_file()
    evaluated = invoke(
        "evaluate", name, "--no-quality", "--iw-samples", 2, "--quiet", "--data", small_mnist_npz
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "iwae" in evaluated.output.lower()
    exported = invoke("export", name, "--out", tmp_path / "export", "--quiet")
    assert exported.exit_code == 0, exported.output
    compared = invoke("compare", name, "--json")
    assert compared.exit_code == 0, compared.output
    assert json.loads(compared.output)[0]["strategy"] == catalogue()[shipped].card["strategy"]
    scored = invoke(*nll_of_run(name, 2, small_mnist_npz, tmp_path / "nll", "--quiet"))
    assert scored.exit_code == 0, scored.output
    assert len(json.loads((tmp_path / "nll" / "results.json").read_text())["rows"]) == 1


def test_a_shipped_vae_is_m1_for_m1_m2(tmp_path, small_mnist_npz):
    cards = {name: catalogue()[name].card for name in SHIPPED}
    vae = next(  # M1 is a plain Gaussian VAE: not one with a flow posterior
        name
        for name, card in cards.items()
        if card["strategy"] == "vae" and "--posterior" not in card["command"]
    )
    out = tmp_path / "m1m2"
    m1_m2 = ["--strategy", "m1_m2", "--m1-run", f"pretrained:{vae}", "--labels", 10]
    trained = invoke(*tiny_train_args(small_mnist_npz, out, *m1_m2))
    assert trained.exit_code == 0, trained.output
    assert json.loads((out / "config.json").read_text())["model"]["options"]["m1_run"] == (
        f"pretrained:{vae}"
    )


def test_a_shipped_vae_with_a_flow_is_refused_as_m1_naming_the_flow(tmp_path, small_mnist_npz):
    flowing = next(n for n in SHIPPED if "--posterior iaf" in catalogue()[n].card["command"])
    m1_m2 = ["--strategy", "m1_m2", "--m1-run", f"pretrained:{flowing}", "--labels", 10]
    result = invoke(*tiny_train_args(small_mnist_npz, tmp_path / "out", *m1_m2))
    assert_last_line_error(result, 2, "with a flow posterior (--posterior)")
    assert not (tmp_path / "out").exists()


def test_reproduce_runs_the_cards_command_and_resumes(tmp_path, monkeypatch):
    from mnist_vae.cli import pretrained
    from mnist_vae.io import training_stage_path

    calls = []
    monkeypatch.setattr(pretrained, "run_mnist_vae", calls.append)
    out = tmp_path / "again"
    assert invoke("pretrained", "--reproduce", FIRST, "--out", out).exit_code == 0
    command = shlex.split(catalogue()[FIRST].card["command"])[1:]
    command[command.index("--out") + 1] = str(out)
    assert calls[-1] == command
    stage = training_stage_path(out)
    stage.mkdir(parents=True)  # an interrupted reproduction
    card_config = json.loads((catalogue()[FIRST].folder / "config.json").read_text())
    intent = {"config": {"model": card_config["model"], "train": card_config["train"]}}
    intent["config"]["train"] = {**intent["config"]["train"], "data": "/elsewhere/mnist.npz"}
    (stage / "training.json").write_text(json.dumps(intent))
    assert invoke("pretrained", "--reproduce", FIRST, "--out", out).exit_code == 0
    assert calls[-1] == ["train", "--resume", str(out)]
    # Another model's interrupted training there is not finished as a reproduction.
    intent["config"]["model"] = {**card_config["model"], "latent_dim": 8}
    (stage / "training.json").write_text(json.dumps(intent))
    calls.clear()
    other = invoke("pretrained", "--reproduce", FIRST, "--out", out)
    assert_one_line_error(other, 2, "another model", "model.latent_dim 8", "train --resume")
    assert calls == []


M1_M2 = next((n for n in SHIPPED if catalogue()[n].card.get("requires")), None)
needs_m1_m2 = pytest.mark.skipif(M1_M2 is None, reason="no shipped model requires a run")


def _required_and_main(out):
    """The M1 command and the M1+M2 card's command as ``--reproduce`` should run them for
    ``out``: the M1 beside ``out``, the card's --m1-run pointing at it."""
    card = catalogue()[M1_M2].card
    need = card["requires"][0]
    m1_words = shlex.split(need["command"])[1:]
    m1 = out.parent / os.path.basename(m1_words[m1_words.index("--out") + 1])
    m1_words[m1_words.index("--out") + 1] = str(m1)
    main = shlex.split(card["command"])[1:]
    main[main.index("--out") + 1] = str(out)
    main[main.index(need["flag"]) + 1] = str(m1)
    return m1, m1_words, main


@needs_m1_m2
def test_every_required_run_is_the_one_the_cards_command_names():
    for name in SHIPPED:
        card = catalogue()[name].card
        command = shlex.split(card["command"])
        for need in card.get("requires") or ():
            required = shlex.split(need["command"])
            assert required[:2] == ["mnist-vae", "train"]
            assert command[command.index(need["flag"]) + 1] == required[required.index("--out") + 1]


@needs_m1_m2
@pytest.mark.parametrize("out", [None, "elsewhere/again"])
def test_reproducing_m1_m2_trains_its_m1_first_beside_out(tmp_path, monkeypatch, out):
    from mnist_vae.cli import pretrained

    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(pretrained, "run_mnist_vae", calls.append)
    given = ["--out", out] if out else []
    result = invoke("pretrained", "--reproduce", M1_M2, *given)
    assert result.exit_code == 0, result.output
    m1, m1_words, main = _required_and_main(Path(out or f"runs/{M1_M2}"))
    assert calls == [m1_words, main]
    card = shlex.split(catalogue()[M1_M2].card["command"])
    assert out or str(m1) == card[card.index("--m1-run") + 1]  # by default the card's own
    assert f"mnist-vae {shlex.join(m1_words)}" in result.output  # each command is shown


@needs_m1_m2
def test_a_required_run_found_is_used_resumed_or_refused(tmp_path, monkeypatch):
    """Its M1 trained already is used; interrupted, resumed; another model's run there is
    refused before any work, naming the difference (how a run ran may differ)."""
    from mnist_vae.cli import pretrained
    from mnist_vae.cli.train import config_of
    from mnist_vae.io import training_stage_path

    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(pretrained, "run_mnist_vae", calls.append)
    out = tmp_path / "again"
    m1, m1_words, main = _required_and_main(out)
    trained = config_of(m1_words)
    trained["train"] = {**trained["train"], "figures": False, "data": "/elsewhere/mnist.npz"}
    m1.mkdir()
    (m1 / "config.json").write_text("{not json")
    for name in REQUIRED_FILES[1:]:
        (m1 / name).write_text("{}")
    unread = invoke("pretrained", "--reproduce", M1_M2, "--out", out)
    assert_one_line_error(unread, 2, f"{m1} holds files but not a finished run")
    (m1 / "config.json").write_text(json.dumps(trained))
    assert invoke("pretrained", "--reproduce", M1_M2, "--out", out).exit_code == 0
    assert calls == [main]
    trained["model"] = {**trained["model"], "latent_dim": 8}
    (m1 / "config.json").write_text(json.dumps(trained))
    calls.clear()
    other = invoke("pretrained", "--reproduce", M1_M2, "--out", out)
    assert_one_line_error(other, 2, f"{m1} holds a run of another model", "model.latent_dim 8")
    (m1 / "config.json").unlink()
    (m1 / "notes.txt").write_text("mine")
    assert_one_line_error(
        invoke("pretrained", "--reproduce", M1_M2, "--out", out), 2, "holds files but not"
    )
    shutil.rmtree(m1)
    training_stage_path(m1).mkdir(parents=True)
    intent = {"config": config_of(m1_words)}
    (training_stage_path(m1) / "training.json").write_text(json.dumps(intent))
    assert invoke("pretrained", "--reproduce", M1_M2, "--out", out).exit_code == 0
    assert calls == [["train", "--resume", str(m1)], main]
    out.mkdir()
    (out / "results.txt").write_text("a user's")
    calls.clear()
    busy = invoke("pretrained", "--reproduce", M1_M2, "--out", out)
    assert_one_line_error(busy, 2, f"{out} is not empty; choose another --out")
    assert calls == [] and (out / "results.txt").read_text() == "a user's"


@needs_m1_m2
def test_m1_m2s_interrupted_reproduction_resumes_however_out_is_spelled(tmp_path, monkeypatch):
    """Its --m1-run is the folder this reproduction chose: compared as a folder, not text."""
    from mnist_vae.cli import pretrained
    from mnist_vae.io import training_stage_path

    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(pretrained, "run_mnist_vae", calls.append)
    card_config = json.loads((catalogue()[M1_M2].folder / "config.json").read_text())
    options = {**card_config["model"]["options"], "m1_run": "m1-mlp600-e200"}  # as --out again
    intent = {"config": {**card_config, "model": {**card_config["model"], "options": options}}}
    (tmp_path / "m1-mlp600-e200").mkdir()  # its M1, finished (as the stand-in says)
    (tmp_path / "m1-mlp600-e200" / "config.json").write_text("{}")
    monkeypatch.setattr(pretrained_runs, "_required_run_there", lambda *args: [])
    training_stage_path(tmp_path / "again").mkdir()
    (training_stage_path(tmp_path / "again") / "training.json").write_text(json.dumps(intent))
    for out in ("again", "./again", str(tmp_path / "again")):
        calls.clear()
        result = invoke("pretrained", "--reproduce", M1_M2, "--out", out)
        assert result.exit_code == 0, result.output
        assert calls == [["train", "--resume", str(Path(out))]]


@needs_m1_m2
@pytest.mark.parametrize("out", [".", "x/m1-mlp600-e200", "x/" + "a" * 240])
def test_an_out_the_required_run_cannot_sit_beside_is_refused_before_any_work(
    tmp_path, monkeypatch, out
):
    from mnist_vae.cli import pretrained

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pretrained, "run_mnist_vae", never_called)
    result = invoke("pretrained", "--reproduce", M1_M2, "--out", out)
    fragment = "bytes long" if len(out) > 200 else "choose an --out named otherwise"
    assert_one_line_error(result, 2, fragment)
    assert list(tmp_path.iterdir()) == []


def test_a_finished_reproduction_not_yet_tidied_is_finished_by_its_command(tmp_path, monkeypatch):
    """Killed after it became --out but before its checkpoints went: the card's command
    again tidies it (train does), as a rerun of any training does."""
    from mnist_vae.cli import pretrained

    calls = []
    monkeypatch.setattr(pretrained, "run_mnist_vae", calls.append)
    out = tmp_path / "again"
    shutil.copytree(catalogue()[FIRST].folder, out)
    intent = {"config": json.loads((out / "config.json").read_text())}
    (out / "training.json").write_text(json.dumps(intent))
    assert invoke("pretrained", "--reproduce", FIRST, "--out", out).exit_code == 0
    command = shlex.split(catalogue()[FIRST].card["command"])[1:]
    command[command.index("--out") + 1] = str(out)
    assert calls == [command]
    intent["config"]["model"]["latent_dim"] = 8
    (out / "training.json").write_text(json.dumps(intent))
    other = invoke("pretrained", "--reproduce", FIRST, "--out", out)
    assert_one_line_error(other, 2, "holds a run of another model", "model.latent_dim 8")


def test_reproduce_debug_passes_debug_on(tmp_path, monkeypatch):
    from mnist_vae.cli import pretrained

    calls = []
    monkeypatch.setattr(pretrained, "run_mnist_vae", calls.append)
    out = tmp_path / "again"
    assert invoke("pretrained", "--reproduce", FIRST, "--out", out, "--debug").exit_code == 0
    assert calls[-1][-1] == "--debug" and calls[-1][0] == "train"


def test_reproduce_runs_its_commands_in_turn_and_stops_at_a_failure(monkeypatch):
    """The commands run in this process one after another; the first that fails ends the
    reproduction with its exit code."""
    from mnist_vae.runs import pretrained

    def steps(commands):
        monkeypatch.setattr(pretrained, "reproduction_steps", lambda *args: commands)
        return invoke("pretrained", "--reproduce", FIRST)

    both = steps([["data", "--help"], ["zoo", "--help"]])
    assert both.exit_code == 0, both.output
    assert "Usage: mnist-vae data" in both.output and "Usage: mnist-vae zoo" in both.output
    failed = steps([["zoo", "--no-such-flag"], ["data", "--help"]])
    assert failed.exit_code == 2 and "No such option" in failed.output
    assert "Usage: mnist-vae data" not in failed.output


def test_a_card_requires_the_run_its_m1_was_trained_from(tmp_path):
    """make_card's ``requires``: an option naming a run folder, with the command that run
    records; a shipped model, a missing folder and a plain option need nothing."""
    from types import SimpleNamespace

    from mnist_vae.evaluation.cards import required_runs

    m1 = tmp_path / "m1"
    m1.mkdir()
    (m1 / "config.json").write_text(json.dumps({"command": "mnist-vae train --out m1"}))

    def needs(options):
        model = SimpleNamespace(options=options)
        return required_runs(SimpleNamespace(config=SimpleNamespace(model=model)))

    assert needs({"m1_run": str(m1), "alpha": 0.1}) == [
        {"flag": "--m1-run", "command": "mnist-vae train --out m1"}
    ]
    assert needs({"m1_run": "pretrained:mlp-vae-z50"}) == []
    assert needs({"m1_run": str(tmp_path / "gone")}) == []
    for command in ("python my_script.py", "mnist-vae train --out=m1", "mnist-vae train"):
        (m1 / "config.json").write_text(json.dumps({"command": command}))
        with pytest.raises(RunError, match="records no command that trains it again"):
            needs({"m1_run": str(m1)})


def test_m1_m2_without_its_m1_run_is_refused_before_any_work(tmp_path, small_mnist_npz):
    m1_m2 = ["--strategy", "m1_m2", "--m1-run", "runs/no-m1", "--labels", 10]
    result = invoke(*tiny_train_args(small_mnist_npz, tmp_path / "out", *m1_m2))
    assert_last_line_error(result, 2, "--m1-run: 'runs/no-m1' is not a run", "train M1 first")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--reproduce", "nope"], 2, "no pretrained model 'nope'"),
        (["--out", "x"], 2, "--out goes with --reproduce"),
        (["--json", "--reproduce", "x"], 2, "give one of them"),
    ],
)
def test_pretrained_bad_input_is_one_line(args, code, fragment):
    assert_one_line_error(invoke("pretrained", *args), code, fragment)


def test_a_missing_run_is_still_a_usage_error_for_benchmark_runs(tmp_path):
    result = invoke("benchmark", "nll", "--run", tmp_path / "nothing", "--out", tmp_path / "o")
    assert_one_line_error(result, 2, "is not a run directory", "pretrained:NAME")


def test_the_tables_z_is_both_layers_sizes_for_two_stochastic_layers():
    from mnist_vae.runs.pretrained import card_row

    def z(card):
        return card_row({"name": "m", "strategy": "s", "binarize": "dynamic", **card})[3]

    assert z({"latent_dim": 100, "top_latent_dim": 50}) == "100+50"
    assert z({"latent_dim": 16, "top_latent_dim": None}) == "16"
    assert z({"latent_dim": 50}) == "50"  # a card from before the field


def test_the_tables_paper_cell_gives_a_number_only_where_the_paper_has_one():
    from mnist_vae.runs.pretrained import paper_cell

    assert paper_cell({"row": "Burda et al. 2016, IWAE k=5", "nll": 85.54}) == (
        "Burda et al. 2016, IWAE k=5 85.54"
    )
    assert paper_cell({"row": "M2, 100 labels (test error %)", "error": 11.97}).endswith("11.97")
    assert paper_cell({"row": "none: a ladder VAE", "nll": None}) == "none: a ladder VAE"
    assert paper_cell(None) == "-"


def test_the_cards_table_has_a_row_per_card_in_the_markdown_columns():
    from mnist_vae.runs.pretrained import COLUMNS, card_row, cards_table

    cards = [model.card for model in catalogue().values()]
    table = cards_table(cards)
    assert [column.header for column in table.columns] == list(COLUMNS)
    assert [list(column.cells) for column in table.columns] == [
        list(cells) for cells in zip(*(card_row(card) for card in cards), strict=True)
    ]
