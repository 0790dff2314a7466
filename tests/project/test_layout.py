"""The source's layout rules, read from the source.

No function (or method, nested or not) in mnist_vae/, zoo/ or cli/ is over
``MAX_FUNCTION_LINES`` lines, counted from its ``def`` line to its last line as ``ast``
gives them (decorators not counted): a longer one is split into named helpers.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

MAX_FUNCTION_LINES = 60
FOLDERS = ("mnist_vae", "zoo", "cli")


def long_functions(source: str, where: str) -> list[str]:
    """``where:line name (N lines)`` for each function of ``source`` over the limit."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def source_files() -> list[Path]:
    """Every Python file the rule covers."""
    return sorted(path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


def test_no_function_is_over_the_limit():
    files = source_files()
    assert {path.relative_to(ROOT).parts[0] for path in files} == set(FOLDERS)
    over = [
        entry
        for path in files
        for entry in long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert over == [], f"functions over {MAX_FUNCTION_LINES} lines (split them): {over}"


def test_the_count_runs_from_def_to_last_line_without_decorators():
    body = [f"x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 1)]  # with its def: the limit
    at_limit = "@decorator\n@another\ndef fits():\n" + "".join(f"    {b}\n" for b in body)
    assert long_functions(at_limit, "m.py") == []
    method = "class C:\n    async def method(self):\n        async def inner():\n" + "".join(
        f"            {b}\n" for b in body
    )
    assert long_functions(method, "m.py") == [f"m.py:2 method ({MAX_FUNCTION_LINES + 1} lines)"]
    nested = "def outer():\n    def inner():\n" + "".join(f"        {b}\n" for b in body)
    assert long_functions(nested, "m.py") == [f"m.py:1 outer ({MAX_FUNCTION_LINES + 1} lines)"]
