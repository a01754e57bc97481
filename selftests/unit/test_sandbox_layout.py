"""The sandbox's structure stays as sandbox/README.md describes it: no import cycle, no two
modules of one name, and one fault registry that agrees with the app's code. Static, ~0.1 s."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from sandbox.control.faults import FAULTS, REGISTRY, Kind

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SANDBOX.rglob("*.py"):
        name = ".".join(path.relative_to(SANDBOX.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The sandbox modules `path` imports, TYPE_CHECKING blocks included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sandbox":
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "sandbox")
    return {name for name in found if name in modules}


def test_no_import_cycle_in_the_sandbox() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for dependency in sorted(graph[name]):
            visit(dependency, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_two_sandbox_modules_share_a_name() -> None:
    modules = [path.stem for path in SANDBOX.rglob("*.py") if path.stem not in ("__init__", "__main__")]
    packages = [path.parent.name for path in SANDBOX.rglob("__init__.py") if path.parent != SANDBOX]
    names = Counter(modules + packages)
    assert [name for name, count in names.items() if count > 1] == []


def test_one_fault_registry_agrees_with_the_app() -> None:
    assert list(FAULTS) == list(REGISTRY) and all(FAULTS.values())
    app_code = "".join(path.read_text() for path in (SANDBOX / "app").glob("*.py"))
    unread = [name for name, fault in REGISTRY.items() if fault.kind is Kind.APP and f'"{name}"' not in app_code]
    assert unread == [], f"app-side faults the app never reads: {unread}"
    misplaced = [name for name, fault in REGISTRY.items() if fault.kind is not Kind.APP and f'"{name}"' in app_code]
    assert misplaced == [], f"faults the app reads but the registry does not publish to it (kind is not APP): {misplaced}"
    inert = [name for name, fault in REGISTRY.items() if fault.kind in (Kind.DATABASE, Kind.COMPONENT) and not fault.apply]
    assert inert == [], f"faults with nothing to apply: {inert}"
