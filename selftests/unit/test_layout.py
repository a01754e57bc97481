"""postdeploy/'s layout shows its architecture and keeps it: subpackages in layers, each importing only
the layers below it (type hints included), no two modules of one name. Static, ~0.1 s."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "postdeploy"

# Bottom to top: a subpackage imports only from those before it.
LAYERS = ("core", "config", "catalog", "sources", "run", "checks", "outputs", "pytestplugin")
# The package itself: its docstring, `python -m postdeploy` and the command line beside pytest.
TOP = {"__init__.py", "__main__.py", "cli.py"}


def _layer(module: str) -> str | None:
    """The subpackage of a dotted module name under postdeploy (None for the top modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def _imports(path: Path) -> set[str]:
    """The postdeploy modules `path` imports, TYPE_CHECKING blocks and function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "postdeploy":
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "postdeploy")
    return found


def test_only_the_top_modules_are_flat() -> None:
    flat = {path.name for path in PACKAGE.glob("*.py")}
    assert flat == TOP, f"place these in a subpackage ({', '.join(LAYERS)}): {sorted(flat - TOP)}"
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert packages == set(LAYERS), f"a subpackage outside the layers: {sorted(packages ^ set(LAYERS))}"


def test_each_layer_imports_only_the_layers_below() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE:
            continue
        layer = path.relative_to(PACKAGE).parts[0]
        below = set(LAYERS[: LAYERS.index(layer) + 1])
        for module in sorted(_imports(path)):
            target = _layer(module)
            if target is None or target not in below:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert wrong == [], "imports against the layering " + " < ".join(LAYERS) + ":\n" + "\n".join(wrong)


def test_no_two_modules_share_a_name() -> None:
    modules = [path.stem for path in PACKAGE.rglob("*.py") if path.stem not in ("__init__", "__main__")]
    packages = [path.parent.name for path in PACKAGE.rglob("__init__.py") if path.parent != PACKAGE]
    names = Counter(modules + packages)
    assert [name for name, count in names.items() if count > 1] == []
