"""The suite's distribution: its wheel holds postdeploy alone, and importing it loads no sandbox module.

The sandbox (sandbox/) runs from a checkout (`python -m sandbox` in the checkout's folder); a
`pip install` of the suite must not bring it along, nor may the suite depend on it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _is_sandbox(name: str) -> bool:
    return name == "sandbox" or name.startswith(("sandbox/", "sandbox."))


def test_the_wheel_holds_no_sandbox_module(tmp_path: Path) -> None:
    # A copy of the checkout's packages, so that the build leaves no build/ or egg-info behind
    # in the checkout; sandbox/ is in the copy, as in the checkout, for packages.find to skip.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("postdeploy", "sandbox", "selftests", "bench"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    proc = subprocess.run([*command, "-w", str(dist), str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    (wheel,) = dist.glob("postdeploy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "postdeploy/__init__.py" in names and "postdeploy/pytestplugin/plugin.py" in names
    templates = {f"postdeploy/outputs/templates/{t.name}" for t in (ROOT / "postdeploy" / "outputs" / "templates").glob("*.j2")}
    assert templates and templates <= set(names), f"the wheel lacks templates: {sorted(templates - set(names))}"
    assert "postdeploy/outputs/report.css" in names, "the wheel lacks report.css"
    assert not [n for n in names if _is_sandbox(n)], f"the wheel ships sandbox files: {[n for n in names if _is_sandbox(n)]}"
    top_level = {n.split("/")[0] for n in names if not n.endswith(".dist-info/RECORD")}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"postdeploy"}


def test_importing_postdeploy_loads_no_sandbox_module() -> None:
    # Run in the checkout's folder, where `sandbox` is importable: an import would succeed and show.
    code = (
        "import importlib.util, json, sys\n"
        "assert importlib.util.find_spec('sandbox') is not None, 'sandbox is not importable here'\n"
        "import postdeploy, postdeploy.pytestplugin.plugin, postdeploy.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'sandbox' or m.startswith('sandbox.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [], f"postdeploy imported {proc.stdout.strip()}"
