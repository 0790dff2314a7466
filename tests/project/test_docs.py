"""The docs that must not drift from the code: docs/cli.md is the commands' own reference,
docs/architecture.md names every module, docs/plugins.md every built-in name, and the
links between the docs land on a heading."""

from __future__ import annotations

import difflib
import functools
import importlib.util
import io
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.helpers import ROOT

DOCS = ROOT / "docs"
SOURCE_FOLDERS = ("mnist_vae", "zoo", "cli")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def reference_script():
    """docs/generate_cli_reference.py, the script ``make docs`` runs, loaded by its path."""
    path = DOCS / "generate_cli_reference.py"
    spec = importlib.util.spec_from_file_location("generate_cli_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- docs/cli.md ---------------------------------------------------------------------------


def test_the_cli_reference_is_the_commands_own():
    render = reference_script().render

    rendered, written = render(), read(DOCS / "cli.md")
    if written != rendered:
        diff = "".join(
            difflib.unified_diff(
                written.splitlines(True),
                rendered.splitlines(True),
                "docs/cli.md",
                "the commands",
                n=1,
            )
        )
        pytest.fail(f"docs/cli.md is not the commands' reference: run `make docs`\n{diff[:4000]}")


def test_the_reference_depends_on_no_terminal_path_or_plugin(monkeypatch):
    render = reference_script().render
    from mnist_vae.registry import architectures, strategies

    wide = render()
    monkeypatch.setenv("COLUMNS", "40")

    def plugin_arch():
        """A plugin's architecture."""

    with architectures.temporary(plugin_arch), strategies.temporary(plugin_arch, name="plug"):
        assert render() == wide
    assert str(ROOT) not in wide and str(Path.home()) not in wide


def test_the_reference_renders_what_help_shows():
    render = reference_script().render

    @click.group()
    def tool():
        """A tool.

        \b
        kept:
          as typed
        """

    @tool.command(context_settings={"show_default": True})
    @click.argument("src")
    @click.option("--mode", type=click.Choice(["a", "b"]), default="a", help="Mode a|b.")
    @click.option("--n", type=click.IntRange(1, 9), default=3, help="Count *ish*.")
    @click.option("--out", required=True, help="Where.")
    @click.option("--fast/--slow", default=False, help="Speed.")
    @click.option("--when", default=None, help="Time <b>. [default: now, unless given]")
    @click.option("--gone", hidden=True)
    def run(**kwargs):
        """Run it."""

    text = render(tool, name="tool")
    assert "## `tool run`" in text and "```\ntool run [OPTIONS] SRC\n```" in text
    assert "```\nkept:\n  as typed\n```" in text  # a \b block keeps its lines
    assert "| [`run`](#tool-run) | Run it. |" in text
    assert "| `--mode` | one of `a`, `b` | `a` | Mode a\\|b. |" in text
    assert "| `--n` | `INTEGER`, 1<=x<=9 | `3` | Count \\*ish\\*. |" in text
    assert "| `--out` | `TEXT` | required | Where. |" in text
    assert "| `--fast` / `--slow` | flag | `--slow` | Speed. |" in text
    assert "| `--when` | `TEXT` | now, unless given | Time &lt;b>. |" in text
    assert "--gone" not in text and "`src`" not in text


def test_the_help_option_is_rendered_as_the_group_names_it():
    from click.testing import CliRunner

    render = reference_script().render

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    def tool():
        """A tool."""

    @tool.command()
    def run():
        """Run it."""

    CliRunner().invoke(run, ["--help"])  # on its own: click keeps a help option of --help only
    assert "| `-h`, `--help` | flag |  | Show this message and exit. |" in render(tool, "tool")


def test_train_help_sections_are_the_references():
    from mnist_vae.cli.train import help_sections

    text = read(DOCS / "cli.md")
    train = text[text.index("## `mnist-vae train`") : text.index("## `mnist-vae zoo`")]
    titles = re.findall(r"^### (.*)$", train, re.M)
    assert titles == list(help_sections())


# -- docs/architecture.md ------------------------------------------------------------------

BRANCH = re.compile(r"^((?:│   |    )*)(?:├── |└── )(.*)$")
MODULE = re.compile(r"^\w+\.py$")


def layout_entries(text: str) -> set[str]:
    """The paths the layout tree names: folders (``a/b/``) and modules (``a/b.py``).

    A line names a folder (``name/``) or one or more modules (``a.py  b.py  ...``) at the
    depth its tree branches give; the description after them is free text.
    """
    block = re.search(r"## Layout\n+```\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md lost its Layout tree"
    listed: set[str] = set()
    stack: list[str] = []
    for line in block.group(1).splitlines():
        if re.match(r"^\w+/", line):  # a top-level folder
            stack = [line.split()[0].rstrip("/")]
            listed.add(stack[0] + "/")
            continue
        branch = BRANCH.match(line)
        if branch is None:
            continue  # a description's continuation
        words = branch.group(2).split()
        stack = stack[: len(branch.group(1)) // 4 + 1]
        if words[0].endswith("/"):
            stack.append(words[0].rstrip("/"))
            listed.add("/".join(stack) + "/")
            continue
        for word in words:
            if not MODULE.match(word):
                break
            listed.add("/".join([*stack, word]))
    return listed


def test_the_architecture_layout_names_every_module():
    """Every module, and every package as its folder (``__init__.py`` is the folder's)."""
    listed = layout_entries(read(DOCS / "architecture.md"))
    files = sorted(
        path.relative_to(ROOT)
        for folder in SOURCE_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
    )
    wanted = {
        f"{path.parent.as_posix()}/" if path.name == "__init__.py" else path.as_posix()
        for path in files
    }
    missing = sorted(wanted - listed)
    assert not missing, f"docs/architecture.md's Layout does not name: {', '.join(missing)}"
    stale = sorted(entry for entry in listed if not (ROOT / entry).exists())
    assert not stale, f"docs/architecture.md's Layout names what is gone: {', '.join(stale)}"


def test_the_layout_reader_follows_the_tree():
    tree = """## Layout

```
pkg/
├── a.py               the a module; mentions b.py in passing
├── sub/               a package
│   ├── c.py  d.py     two at once
│   │                  (a continuation line)
│   └── deep/
│       └── e.py
└── f.py
other/
└── g.py
```
"""
    assert layout_entries(tree) == {
        "pkg/",
        "pkg/a.py",
        "pkg/sub/",
        "pkg/sub/c.py",
        "pkg/sub/d.py",
        "pkg/sub/deep/",
        "pkg/sub/deep/e.py",
        "pkg/f.py",
        "other/",
        "other/g.py",
    }


# -- docs/plugins.md -----------------------------------------------------------------------


def documented_builtins() -> dict[str, set[str]]:
    """docs/plugins.md's table of built-in names: registry -> names."""
    text = read(DOCS / "plugins.md")
    table = re.search(r"^\| registry \| built-in names \|\n\|---\|---\|\n((?:\|.*\n)+)", text, re.M)
    assert table, "docs/plugins.md lost its table of built-in names"
    rows = {}
    for line in table.group(1).splitlines():
        registry, names = (cell.strip() for cell in line.strip("|").split("|"))
        rows[registry.strip("`")] = set(re.findall(r"`(\w+)`", names))
    return rows


def test_plugins_md_names_every_builtin_strategy():
    from mnist_vae.registry import strategies

    missing = set(strategies.builtin_names()) - documented_builtins().get("strategies", set())
    assert not missing, f"docs/plugins.md does not name the built-in strategies {sorted(missing)}"


def test_strategies_md_has_a_section_and_a_file_entry_for_every_builtin_strategy():
    from mnist_vae.registry import strategies

    text = (ROOT / "docs" / "strategies.md").read_text()
    intro = text.split("\n## ", 1)[0]
    for name in strategies.builtin_names():
        assert f"\n## `{name}`\n" in text, f"docs/strategies.md has no section for {name}"
        assert f"`{name}.py`" in intro, f"docs/strategies.md's file list omits {name}.py"


def test_plugins_md_lists_each_registrys_builtins():
    from mnist_vae.registry import ALL_REGISTRIES

    documented = documented_builtins()
    assert set(documented) == set(ALL_REGISTRIES)
    for kind, registry in ALL_REGISTRIES.items():
        assert documented[kind] == set(registry.builtin_names()), f"docs/plugins.md, {kind}"


# -- links ---------------------------------------------------------------------------------


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (``-1``, ``-2`` for repeats)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    anchors, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        anchors.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return anchors


def test_links_between_the_docs_land_on_a_heading():
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = re.sub(r"^```.*?^```", "", read(page), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            linked = (page.parent / path) if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in github_anchors(read(linked)):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_reference_is_written_whole_or_not_at_all(tmp_path):
    from click.testing import CliRunner

    from tests.helpers import assert_one_line_error

    main = reference_script().main

    missing = tmp_path / "no-such-folder" / "cli.md"
    assert_one_line_error(
        CliRunner().invoke(main, ["--write", str(missing)]), 1, f"cannot write {missing}"
    )
    assert not missing.parent.exists()
    written = tmp_path / "cli.md"
    written.write_text("the old reference")
    assert CliRunner().invoke(main, ["--write", str(written)]).exit_code == 0
    assert written.read_text().startswith("# ") and sorted(p.name for p in tmp_path.iterdir()) == [
        "cli.md"
    ]  # renamed into place: no staging file left beside it


@functools.cache
def zoo_listing_at(latent_dim: int) -> dict:
    """``mnist-vae zoo --json``'s listing at ``latent_dim``, built once for the tests here."""
    from mnist_vae.models.registry_listing import zoo_listing

    return zoo_listing(latent_dim)


def test_the_zoo_md_architecture_table_is_the_registrys():
    """Each built-in architecture, its networks and their parameter counts at z=2 and z=16,
    as `mnist-vae zoo --json` gives them: a new architecture needs its row."""
    from mnist_vae.registry import architectures

    builtin = set(architectures.builtin_names())
    by_latent = {
        latent: {row["name"]: row for row in zoo_listing_at(latent)["architectures"]}
        for latent in (2, 16)
    }
    expected = {
        f"`{name}`": [
            f"`{by_latent[2][name]['encoder']}`",
            f"`{by_latent[2][name]['decoder']}`",
            *(
                f"{by_latent[latent][name][key]:,}"
                for latent in (2, 16)
                for key in ("encoder_params", "decoder_params")
            ),
        ]
        for name in sorted(builtin)
    }
    table = (ROOT / "docs" / "zoo.md").read_text().split("| architecture |", 1)[1]
    shown = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        shown[cells[0]] = cells[1:]
    assert shown == expected, "docs/zoo.md: the architecture table is not `mnist-vae zoo`'s"


def test_usage_md_shows_the_architecture_table_zoo_prints():
    """docs/usage.md's `mnist-vae zoo` example is the table the command prints (150
    columns, built-in names only), so a new architecture or description shows there."""
    from rich.console import Console

    from mnist_vae.models.registry_listing import zoo_tables
    from mnist_vae.registry import architectures

    listing = dict(zoo_listing_at(2))
    builtin = set(architectures.builtin_names())
    listing["architectures"] = [r for r in listing["architectures"] if r["name"] in builtin]
    console = Console(width=150, record=True, file=io.StringIO())
    console.print(zoo_tables(listing, 2)[0])
    printed = "\n".join(line.rstrip() for line in console.export_text().splitlines())
    text = (ROOT / "docs" / "usage.md").read_text()
    shown = text.split("architectures (parameters at latent_dim=2)", 1)[1].split("```", 1)[0]
    title = printed.splitlines()[0].strip()
    assert title == "architectures (parameters at latent_dim=2)"
    assert shown.strip("\n").rstrip() == printed.split(title, 1)[1].strip("\n").rstrip(), (
        "docs/usage.md: paste `COLUMNS=150 mnist-vae zoo`'s architecture table"
    )


def documented_errors(text: str) -> list[tuple[dict[str, str], list[str], str]]:
    """Each ``$ [NAME=VALUE ...] mnist-vae ARGS`` line followed by the ``Error:`` line
    it prints: (environment, arguments, error)."""
    lines = text.splitlines()
    examples = []
    for command, output in itertools.pairwise(lines):
        if command.startswith("$ ") and output.startswith("Error: "):
            words = shlex.split(command[2:])
            settings = list(itertools.takewhile(lambda word: "=" in word, words))
            assert words[len(settings)] == "mnist-vae", command
            env = dict(setting.split("=", 1) for setting in settings)
            examples.append((env, words[len(settings) + 1 :], output))
    return examples


def test_usage_md_error_examples_are_what_the_commands_print(tmp_path, monkeypatch, one_epoch_run):
    """Every error docs/usage.md shows under its command is the line that command
    prints today, run where the example's folders exist (a trained run at runs/net1 and
    runs/net2, an export at exports/net1 holding a user's notes.txt)."""
    from mnist_vae.io.marks import write_manifest
    from tests.helpers import CLI_SCRIPT, invoke, one_error_line

    examples = documented_errors(read(DOCS / "usage.md"))
    assert len(examples) >= 10, "docs/usage.md: the error examples were not found"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_VAE_DATA", str(tmp_path / "no-data.npz"))  # never a training
    for name in ("net1", "net2"):
        shutil.copytree(one_epoch_run("vae").path, tmp_path / "runs" / name)
    export = tmp_path / "exports" / "net1"
    export.mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    write_manifest(export)
    (export / "notes.txt").write_text("mine\n")
    drifted = []
    for env, args, documented in examples:
        if env:  # read when the process starts (KERAS_BACKEND): a process of its own
            done = subprocess.run(
                [sys.executable, "-c", CLI_SCRIPT, *args],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            code, output = done.returncode, done.stderr
        else:
            result = invoke(*args)
            code, output = result.exit_code, result.output
        shown = " ".join([*(f"{k}={v}" for k, v in env.items()), "mnist-vae", *args])
        assert code in (1, 2), f"`{shown}` no longer fails: {output}"
        if one_error_line(output) != documented:
            drifted.append(f"$ {shown}\n{one_error_line(output)}")
    assert not drifted, "docs/usage.md: these commands now print\n" + "\n".join(drifted)
