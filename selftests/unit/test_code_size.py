"""Size limits that keep the code readable: no module over 500 lines, no function over 60.

Measured with ast (a function spans `lineno` to `end_lineno`: its def line to its last line),
over postdeploy/ and sandbox/. Fast: parsing only, nothing imported.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("postdeploy", "sandbox")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

# Modules or functions allowed over the limits, each with its reason; none today. An entry
# that comes within the limits fails test_exceptions_are_still_needed, so the list only shrinks.
EXCEPTIONS: set[str] = set()


@functools.cache
def _oversized(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, int]:
    """Every module and function over its limit: "path" or "path::qualified.name" -> lines."""
    found: dict[str, int] = {}
    for path in sorted(p for pkg in packages for p in (root / pkg).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            found[rel] = lines
        for name, node in _functions(ast.parse(source, filename=rel)):
            span = (node.end_lineno or node.lineno) - node.lineno + 1
            if span > MAX_FUNCTION_LINES:
                found[f"{rel}::{name}"] = span
    return found


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with its qualified name (Class.method, outer.inner)."""
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append((prefix + node.name, node))
            out += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            out += _functions(node, f"{prefix}{node.name}.")
        else:
            out += _functions(node, prefix)
    return out


def test_no_module_or_function_over_the_limits():
    over = {k: v for k, v in _oversized().items() if k not in EXCEPTIONS}
    assert not over, (
        f"over the size limits (modules {MAX_MODULE_LINES} lines, functions {MAX_FUNCTION_LINES}); "
        "split them into well-named parts:\n" + "\n".join(f"  {k}: {v} lines" for k, v in sorted(over.items()))
    )


def test_exceptions_are_still_needed():
    stale = sorted(EXCEPTIONS - set(_oversized()))
    assert not stale, f"within the limits now: remove from EXCEPTIONS in {Path(__file__).name}: {', '.join(stale)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n" + "    x = 1\n" * 60, {"m.py::f"}),
        ("def f():\n" + "    x = 1\n" * 59, set()),
        ("class C:\n    def g(self):\n" + "        x = 1\n" * 60, {"m.py::C.g"}),
        ("x = 1\n" * 501, {"m.py"}),
    ],
)
def test_the_measure_counts_def_line_to_last_line(tmp_path: Path, source: str, expected: set[str]):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(source, encoding="utf-8")
    assert {k.removeprefix("pkg/") for k in _oversized(tmp_path, ("pkg",))} == expected
