"""The package's import rules, read from the source (docs/architecture.md draws them).

The ground floor (errors, versions, declarations, config, settings, registry,
registry_index, notices, io, backend, progress, pixels and the package root) imports
nothing above it; data, models and runs import only the ground floor; export may add
models and runs; training may add data, models, runs and export (to draw from an export
as from a run); evaluation may add training too (the latent samplers it judges are
fitted there); experiments may use the core below them; no core module imports the zoo,
which only the registry's loader brings in, by its one module name. The zoo and the CLI
may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

GROUND = "ground floor"
# What each part of the core may import besides itself and the ground floor.
ALLOWED = {
    GROUND: set(),
    "data": set(),
    "models": set(),
    "runs": set(),
    "training": {"data", "models", "runs", "export"},
    "evaluation": {"data", "models", "runs", "training"},
    "export": {"models", "runs"},
    "experiments": {"data", "models", "runs", "training", "evaluation"},
}
GROUND_MODULES = {
    "errors",
    "versions",
    "declarations",
    "config",
    "settings",
    "registry",
    "registry_index",
    "notices",
    "io",
    "backend",
    "progress",
    "pixels",
}
ZOO = "mnist_vae.zoo"


def part_of(module: str) -> str | None:
    """Which part of the package ``module`` (a dotted name) belongs to."""
    pieces = module.split(".")
    if pieces[0] != "mnist_vae":
        return None
    if len(pieces) == 1 or pieces[1] in GROUND_MODULES:
        return GROUND
    if pieces[1] in ("zoo", "cli"):
        return pieces[1]
    return pieces[1]


def module_name(path: Path, package_dirs: dict[str, Path]) -> str:
    """The dotted name a source file installs as (zoo/ and cli/ live under mnist_vae)."""
    for package, folder in package_dirs.items():
        if folder in path.parents or path.parent == folder:
            parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(f"{path} is outside the package")


def imported_modules(source: str, known: set[str]) -> list[tuple[int, str]]:
    """Every mnist_vae module a source file imports (at any depth), with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.append((node.lineno, candidate if candidate in known else node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "mnist_vae"]


def violations(root: Path) -> list[str]:
    """Every import in ``root``'s package that breaks the rules, as 'file:line: reason'."""
    package_dirs = {
        "mnist_vae.zoo": root / "zoo",
        "mnist_vae.cli": root / "cli",
        "mnist_vae": root / "mnist_vae",
    }
    files = sorted(p for folder in package_dirs.values() for p in folder.rglob("*.py"))
    names = {path: module_name(path, package_dirs) for path in files}
    known = set(names.values())
    broken = []
    for path, name in names.items():
        part = part_of(name)
        if part in ("zoo", "cli"):
            continue
        source = path.read_text()
        where = path.relative_to(root)
        if ZOO in source and name != "mnist_vae.registry":
            # The loader is the one core module that names the zoo.
            broken.append(f"{where}: names {ZOO}; only mnist_vae.registry may load the zoo")
        allowed = ALLOWED[part] | {part, GROUND}
        for line, target in imported_modules(source, known):
            target_part = part_of(target)
            if target_part not in allowed:
                broken.append(f"{where}:{line}: {part} imports {target} ({target_part})")
    return broken


def test_the_package_keeps_its_import_rules():
    assert violations(ROOT) == []


def test_every_core_folder_has_a_rule():
    folders = {p.name for p in (ROOT / "mnist_vae").iterdir() if (p / "__init__.py").exists()}
    assert folders - GROUND_MODULES <= set(ALLOWED)  # a ground-floor package (io) is ground


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {
        "mnist_vae/__init__.py": "",
        "zoo/__init__.py": "",
        "cli/__init__.py": "",
        **files,
    }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        # data reaching up into models, even inside a function
        (
            {
                "mnist_vae/data/__init__.py": "def f():\n    from mnist_vae.models import VAE\n",
                "mnist_vae/models/__init__.py": "",
            },
            "data imports mnist_vae.models",
        ),
        # the ground floor importing a floor above it
        (
            {
                "mnist_vae/config.py": "import mnist_vae.runs.format\n",
                "mnist_vae/runs/__init__.py": "",
                "mnist_vae/runs/format.py": "",
            },
            "ground floor imports mnist_vae.runs.format",
        ),
        # export reaching into training
        (
            {
                "mnist_vae/export/writer.py": "from mnist_vae.training import train\n",
                "mnist_vae/export/__init__.py": "",
                "mnist_vae/training/__init__.py": "",
            },
            "export imports mnist_vae.training",
        ),
        # a core module loading the zoo by name
        (
            {
                "mnist_vae/models/__init__.py": "import importlib\n"
                "importlib.import_module('mnist_vae.zoo')\n"
            },
            "names mnist_vae.zoo",
        ),
        # `from mnist_vae import runs` is an import of the runs package
        (
            {
                "mnist_vae/models/__init__.py": "from mnist_vae import runs\n",
                "mnist_vae/runs/__init__.py": "",
            },
            "models imports mnist_vae.runs",
        ),
    ],
)
def test_a_broken_rule_is_reported(tmp_path, files, fragment):
    found = violations(_tree(tmp_path, files))
    assert len(found) == 1 and fragment in found[0], found


def test_allowed_imports_are_not_reported(tmp_path):
    files = {
        "mnist_vae/errors.py": "",
        "mnist_vae/config.py": "from mnist_vae.errors import first_line\n",
        "mnist_vae/models/__init__.py": "from mnist_vae.config import option\n",
        "mnist_vae/runs/__init__.py": "",
        "mnist_vae/training/__init__.py": "import mnist_vae.models\nfrom mnist_vae import runs\n",
        "zoo/strategies.py": "from mnist_vae.training import train\n",
        "cli/main.py": "from mnist_vae.zoo import strategies\n",
    }
    assert violations(_tree(tmp_path, files)) == []
