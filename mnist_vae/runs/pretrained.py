"""Trained models shipped inside the package: ``pretrained:NAME`` wherever a run goes.

Each lives in ``mnist_vae/pretrained/NAME/`` as the files of a run directory (config,
model, metrics, class means, history) and a ``card.json`` that says how it was made
and what it scores (``mnist_vae.evaluation.cards``). Commands write into runs (``evaluate``
adds metrics, ``sample`` its PNGs and fitted samplers), and the package's own folder
may be read-only, so ``pretrained:NAME`` opens a copy under ``KERAS_HOME/mnist_vae/
pretrained/NAME`` (``~/.keras`` by default, beside Keras's own caches), made on first
use, offline, from the shipped files after checking their sha256 against the card.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from mnist_vae.config import HOW_IT_RAN, code_size
from mnist_vae.declarations import option
from mnist_vae.errors import MnistVaeNote, RunError, UnknownNameError, UsageError
from mnist_vae.io import sha256

PREFIX = "pretrained:"
CARD = "card.json"
SHIPPED = Path(__file__).resolve().parent.parent / "pretrained"


@dataclass(frozen=True)
class Pretrained:
    """One shipped model: its name, shipped folder and card."""

    name: str
    folder: Path
    card: dict[str, Any]


def is_pretrained(text: str | os.PathLike) -> bool:
    """Whether a run argument names a shipped model (``pretrained:NAME``)."""
    return str(text).startswith(PREFIX)


@cache
def catalogue() -> dict[str, Pretrained]:
    """Every shipped model by name, in name order (read once per process)."""
    found = {}
    for card_file in sorted(SHIPPED.glob(f"*/{CARD}")):
        card = json.loads(card_file.read_text())
        found[card_file.parent.name] = Pretrained(card_file.parent.name, card_file.parent, card)
    return found


def lookup(name: str) -> Pretrained:
    """The shipped model ``name``; a usage error naming close matches otherwise."""
    from mnist_vae.registry import close_matches

    models = catalogue()
    if name in models:
        return models[name]
    near = close_matches(name, list(models))
    hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
    raise UnknownNameError(
        f"no pretrained model {name!r}: {hint}'mnist-vae pretrained' lists the "
        f"{len(models)} shipped"
    )


def cache_root() -> Path:
    """Where ``pretrained:NAME`` copies live: KERAS_HOME/mnist_vae/pretrained."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return home / "mnist_vae" / "pretrained"


def check_shipped(model: Pretrained) -> None:
    """Every file the card hashes is shipped with that hash; RunError otherwise."""
    for name, expected in model.card["sha256"].items():
        path = model.folder / name
        if not path.is_file() or sha256(path) != expected:
            raise RunError(
                f"pretrained model {model.name}: {name} does not match its card's sha256: "
                "reinstall mnist-vae"
            )


def run_path(text: str | os.PathLike) -> Path:
    """The folder ``pretrained:NAME`` opens as a run: a checked copy, made on first use.

    A copy whose weights no longer match the card, or whose records (card, config,
    latent codes, history) differ from the shipped ones (changed by hand, or left by an
    older release of the same name), is replaced; anything a command added beside them
    (evaluations in metrics.json, samples, fitted samplers) stays while it matches.
    """
    model = lookup(str(text)[len(PREFIX) :])
    target = cache_root() / model.name
    if _matches(target, model):
        return target
    check_shipped(model)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=target.parent))
    except OSError as error:
        raise UsageError(
            f"cannot make the local copy of pretrained:{model.name} in {target.parent} "
            f"({error.strerror or error}); set KERAS_HOME to a folder you can write in"
        ) from None
    try:
        for item in model.folder.iterdir():
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        if target.exists():
            _put_aside_or_remove(target, model)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


class PretrainedCopyWarning(MnistVaeNote):
    """A note: a changed copy of a shipped model, holding more than the shipped files,
    was moved aside rather than deleted."""


def _put_aside_or_remove(copy: Path, model: Pretrained) -> None:
    """A copy that no longer matches its card goes; what was added to it (evaluations,
    samples, fitted samplers, a user's notes) is never deleted: such a copy is moved to
    ``NAME.replaced-TIME`` beside it, with a note."""
    shipped = {item.name for item in model.folder.iterdir() if item.is_file()}
    added = [item for item in copy.rglob("*") if item.is_file() and item.name not in shipped]
    if not added:
        shutil.rmtree(copy)
        return
    aside = copy.with_name(f"{copy.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(copy, aside)
    warnings.warn(
        f"the copy of pretrained:{model.name} no longer matched its card and held files "
        f"added since; it was moved to {aside} and a fresh copy made",
        PretrainedCopyWarning,
        stacklevel=3,
    )


# A copy's files that no command changes after it is made: each must stay the shipped one
# (metrics.json is not among them: evaluate adds its results there).
FIXED_RECORDS = (CARD, "config.json", "latent.json", "history.csv")


def _matches(folder: Path, model: Pretrained) -> bool:
    """Whether the copy in ``folder`` is still ``model``'s: its weights hash as the card
    says, and its records (``FIXED_RECORDS``) are the shipped ones, byte for byte."""
    import filecmp

    if not (folder / CARD).is_file():
        return False
    records = [name for name in FIXED_RECORDS if (model.folder / name).is_file()]
    return all(
        (folder / name).is_file() and sha256(folder / name) == expected
        for name, expected in model.card["sha256"].items()
    ) and all(
        (folder / name).is_file() and filecmp.cmp(model.folder / name, folder / name, False)
        for name in records
    )


@dataclass(frozen=True)
class PretrainedRequest:
    """What ``mnist-vae pretrained`` is asked: list the cards (a table, ``as_json`` or
    ``markdown``) or train one model again (``reproduce``, into ``out``). The command's
    flags are these fields, declared here once; a request that mixes the two is refused."""

    as_json: bool = option(False, "Print the cards as a JSON list.", flag="json", switch=True)
    markdown: bool = option(
        False,
        "Print the table as Markdown (docs/zoo.md carries it; a test compares).",
        switch=True,
    )
    reproduce: str | None = option(
        None,
        "Train NAME again from its card's command into --out (run it again to "
        "resume after an interruption).",
        metavar="NAME",
    )
    out: str | None = option(
        None, "With --reproduce: the run folder. [default: runs/NAME]", path="folder"
    )

    def __post_init__(self) -> None:
        if self.out is not None and self.reproduce is None:
            raise UsageError("--out goes with --reproduce NAME")
        if self.reproduce is not None and (self.as_json or self.markdown):
            raise UsageError(
                "--json and --markdown list the cards; --reproduce trains: give one of them"
            )
        if self.as_json and self.markdown:
            raise UsageError("--json or --markdown: give one of them")


def reproduction_steps(
    model: Pretrained,
    out: str | os.PathLike | None = None,
    config_of: Callable[[list[str]], dict] | None = None,
) -> list[list[str]]:
    """The ``mnist-vae`` commands, in order, that train ``model`` again into ``out``
    (default ``runs/NAME``).

    First each run the card ``requires`` (M1+M2's M1), beside ``out`` in the folder its
    own command names, unless that run is there already; then the card's command, with
    those folders in place of the card's. A training interrupted in any of these folders
    resumes (``train --resume``) when it is that same training; anything else in their
    way is refused before any work. ``config_of``: the config a ``train`` command's
    arguments would write (``model`` and ``train`` sections), to recognise a required run.
    """
    out = Path(f"runs/{model.name}" if out is None else out)
    tokens = _with_value(shlex.split(model.card["command"])[1:], "--out", out)
    card_config = json.loads((model.folder / "config.json").read_text())
    paths: dict[str, str] = {}  # the required runs' options, as this reproduction sets them
    steps: list[list[str]] = []
    for need in model.card.get("requires") or ():
        words, option_name = _required_command(model, need)
        folder = out.parent / Path(words[words.index("--out") + 1]).name
        if folder.resolve() == out.resolve() or out.resolve() in folder.resolve().parents:
            raise UsageError(
                f"{model.name} trains on a run in {folder} ({need['flag']}), which --out "
                f"{out} would hold; choose an --out named otherwise"
            )
        words = _with_value(words, "--out", folder)
        tokens = _with_value(tokens, need["flag"], folder)
        card_config["model"]["options"][option_name] = paths[option_name] = str(folder)
        if config_of is None:
            raise TypeError("reproducing a model that requires a run needs config_of")
        what = f"{model.name}'s {need['flag']} run"
        expected = partial(config_of, words)  # read only when a run is there
        steps += _training_steps(folder, words, expected, what, required=True, paths={})
    return steps + _training_steps(
        out, tokens, lambda: card_config, model.name, required=False, paths=paths
    )


def _required_command(model: Pretrained, need: dict) -> tuple[list[str], str]:
    """A card's required run: the ``train`` arguments that make it (with ``--out``), and
    the name of the model's option that names it. RunError for a card that says neither."""
    from mnist_vae.registry_index import load_index
    from mnist_vae.settings import flag_of

    options = {flag_of(spec): spec["name"] for spec in load_index()["strategy_flags"]}
    words = shlex.split(need.get("command") or "")[1:]
    command = shlex.split(model.card["command"])
    if (
        words[:1] != ["train"]
        or "--out" not in words[:-1]
        or need.get("flag") not in options
        or need["flag"] not in command[:-1]
    ):
        raise RunError(
            f"pretrained model {model.name}: its card's requires entry {need!r} is not a "
            "strategy flag of its command and a training with --out: reinstall mnist-vae"
        )
    return words, options[need["flag"]]


def _with_value(words: list[str], flag: str, value: str | os.PathLike) -> list[str]:
    """``words`` with ``flag``'s value replaced by ``value``."""
    words = list(words)
    words[words.index(flag) + 1] = str(value)
    return words


def _training_steps(
    folder: Path,
    words: list[str],
    expected: Callable[[], dict],
    what: str,
    *,
    required: bool,
    paths: dict[str, str],
) -> list[list[str]]:
    """How to get ``what`` trained in ``folder`` by the ``train`` arguments ``words``:
    resume its interrupted training, nothing when a ``required`` run is there already,
    else train it. A training or run of another model there is refused; ``paths``: the
    model options naming runs, compared as the folders they name."""
    from mnist_vae.io import check_output_dir, training_stage_path
    from mnist_vae.runs.interrupted import TRAINING, leftover_intent, read_intent

    def differences(found: Any) -> str:  # "" also when found does not read: train says
        if not _readable(found):
            return ""
        return config_differences(_absolute(found, paths), _absolute(expected(), paths))

    if training_stage_path(folder).is_dir():
        other = differences((read_intent(folder, TRAINING) or {}).get("config"))
        if other:
            raise UsageError(
                f"{folder} holds an interrupted training of another model ({other}), not of "
                f"{what}; choose another --out, or finish that one with "
                f"'mnist-vae train --resume {folder}'"
            )
        return [["train", "--resume", str(folder)]]
    leftover = leftover_intent(folder, TRAINING) if folder.is_dir() else None
    if leftover is not None:  # finished, but stopped before it was tidied: train tidies it
        other = differences(leftover.get("config"))
        if other:
            raise UsageError(
                f"{folder} holds a run of another model ({other}), not {what}; choose another --out"
            )
        return [words]
    if folder.is_dir() and any(folder.iterdir()):
        if not required:
            raise UsageError(f"{folder} is not empty; choose another --out for {what}")
        return _required_run_there(folder, differences, what)
    check_output_dir(folder, overwrite=False, kind="run")  # a name too long, a parent not writable
    return [words]


def _required_run_there(folder: Path, differences: Callable[[Any], str], what: str) -> list:
    """Nothing to train when ``folder`` holds ``what`` finished; a usage error otherwise."""
    from mnist_vae.runs.format import REQUIRED_FILES

    try:
        found = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        found = None
    complete = all((folder / name).is_file() for name in REQUIRED_FILES)
    if not complete or not _readable(found):
        raise UsageError(
            f"{folder} holds files but not a finished run of {what}; choose another --out"
        )
    other = differences(found)
    if other:
        raise UsageError(
            f"{folder} holds a run of another model ({other}), not {what}; choose another --out"
        )
    return []  # the required run, trained already


def _readable(config: Any) -> bool:
    """Whether ``config`` reads as a run's settings: ``model`` and ``train`` sections."""
    return isinstance(config, dict) and all(
        isinstance(config.get(section), dict) for section in ("model", "train")
    )


def _absolute(config: dict, paths: dict[str, str]) -> dict:
    """``config`` with its options among ``paths`` (run folders) made absolute, so that
    one folder spelled two ways compares equal."""
    options = config["model"].get("options")
    if not paths or not isinstance(options, dict):
        return config
    absolute = {
        k: os.path.abspath(v) if k in paths and isinstance(v, str) else v
        for k, v in options.items()
    }
    return {**config, "model": {**config["model"], "options": absolute}}


# Settings that may differ between a card's run and its reproduction: how each ran, and
# the precision "auto" resolved to on the machine that trained it.
MACHINE_SETTINGS = (*HOW_IT_RAN, "precision")


def config_differences(found: dict, expected: dict) -> str:
    """How the config ``found`` (a run's, or an interrupted training's) differs from
    ``expected`` in what it trains: the first three differences, "" when none."""
    differences = []
    for section in ("model", "train"):
        ours, theirs = found.get(section) or {}, expected.get(section) or {}
        for key in sorted(set(ours) & set(theirs) - set(MACHINE_SETTINGS)):
            if ours[key] != theirs[key]:
                differences.append(f"{section}.{key} {ours[key]!r}, the card's {theirs[key]!r}")
    return "; ".join(differences[:3])


# The table of shipped models: ``mnist-vae pretrained`` and docs/zoo.md (``--markdown``).
COLUMNS = (
    "name",
    "strategy",
    "arch",
    "z",
    "data",
    "NLL",
    "K",
    "-ELBO",
    "FD",
    "updates",
    "train",
    "paper",
)
LEFT = ("name", "strategy", "arch", "data", "paper")
PIXELS = {"none": "grey levels", "dynamic": "dynamic binary", "threshold": "thresholded"}


def card_row(card: dict) -> list[str]:
    """One card as the table's cells (nats per image)."""
    paper = card.get("paper") or {}
    updates = card.get("updates")
    pixels = PIXELS.get(card["binarize"], card["binarize"])
    return [
        card["name"],
        card["strategy"],
        str(card.get("architecture") or "-"),
        code_size(card.get("latent_dim"), card.get("top_latent_dim")),
        f"MNIST, {pixels}",
        _number(card.get("nll")),
        str(card.get("iw_samples") or "-"),
        _number(card.get("negative_elbo")),
        _number(card.get("fd")),
        "-" if updates is None else f"{updates:,}",
        _duration(card.get("train_seconds")),
        paper_cell(paper),
    ]


def paper_cell(paper: dict | None) -> str:
    """The paper row the card is compared with, and its number when it has one."""
    if not paper:
        return "-"
    value = _paper_value(paper)
    return " ".join([paper.get("row", ""), *([] if value is None else [_number(value)])]).strip()


def markdown_table(cards: list[dict]) -> str:
    """The table in Markdown, as docs/zoo.md shows it."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if c in LEFT else "---:" for c in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(card_row(card)) + " |" for card in cards]
    return "\n".join(lines)


def cards_table(cards: list[dict]) -> Any:
    """The table as ``mnist-vae pretrained`` prints it: a rich table, one card a row."""
    from rich.table import Table

    table = Table(title="pretrained models (nats per image; open one as pretrained:NAME)")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in LEFT else "right")
    for card in cards:
        table.add_row(*card_row(card))
    return table


def _paper_value(paper: dict):
    """The paper's number: its NLL, else its test error (semi-supervised rows)."""
    return paper.get("nll") if paper.get("nll") is not None else paper.get("error")


def _number(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
