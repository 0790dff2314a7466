"""The index of the built-in zoo's registrations, for ``--help`` and shell completion.

Loading the zoo imports Keras and TensorFlow (seconds), yet a command's ``--help`` and
a shell's TAB only need names: the registered names of each registry and the built-in
strategies' flags. ``mnist_vae/zoo/index.json`` keeps them, written from the live
registries by ``make docs`` (``python -m mnist_vae.registry_index --write``);
tests/ground/test_registry_index.py fails when it differs from what the zoo registers.

Plugins are not in it: when any is installed (its entry point is read from the package
metadata, nothing imported) the names come from the live registry, as they do once the
registry is loaded anyway. Running a command always checks names against the registry.

Reading the index imports no Keras (``mnist_vae.registry`` loads the zoo only when asked);
writing it loads the zoo.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

INDEX_NAME = "index.json"
WRITE_COMMAND = "make docs (or: python -m mnist_vae.registry_index --write)"


def index_path() -> Path:
    """``mnist_vae/zoo/index.json``, found without importing the zoo (which loads Keras)."""
    from mnist_vae.registry import BUILTIN_MODULE

    spec = importlib.util.find_spec(BUILTIN_MODULE)
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise FileNotFoundError(f"{BUILTIN_MODULE} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / INDEX_NAME


@functools.cache
def load_index() -> dict[str, Any]:
    """The checked-in index: ``{"registries": {kind: [name, ...]}, "strategy_flags": [...]}``."""
    return json.loads(index_path().read_text(encoding="utf-8"))


def live_index() -> dict[str, Any]:
    """The index as the live registries give it now (loads the zoo, and with it Keras)."""
    from mnist_vae.registry import ALL_REGISTRIES
    from mnist_vae.settings import strategy_flag_specs

    return {
        "about": "Written by " + WRITE_COMMAND + " from the built-in registries; do not edit.",
        "registries": {kind: reg.builtin_names() for kind, reg in ALL_REGISTRIES.items()},
        "strategy_flags": strategy_flag_specs(),
    }


def render(index: dict[str, Any]) -> str:
    """The index as written: one name a line, so a change reads as a small diff."""
    return json.dumps(index, indent=1, ensure_ascii=False) + "\n"


def registered_names(kind: str) -> list[str]:
    """The names registered as ``kind`` (a key of ``ALL_REGISTRIES``), for completion and help.

    From the index while only the built-in zoo can register anything (no plugin installed)
    and the registry is not loaded yet; else from the registry itself.
    """
    from mnist_vae import registry

    if registry.is_loaded() or registry.plugins_installed():
        return list(getattr(registry, kind).names())
    return list(load_index()["registries"][kind])


def main(argv: list[str] | None = None) -> int:
    """``--write``: rewrite the index from the registries; ``--check``: exit 1 if stale."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["--write"], ["--check"]):
        print("usage: python -m mnist_vae.registry_index --write | --check", file=sys.stderr)
        return 2
    text, path = render(live_index()), index_path()
    if args == ["--write"]:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            from mnist_vae.io.files import atomic_file

            with atomic_file(path, "w") as handle:  # never a half-written index
                handle.write(text)
        print(f"wrote {path}")
        return 0
    if path.read_text(encoding="utf-8") != text:
        print(f"{path} is out of date: run {WRITE_COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
