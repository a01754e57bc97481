"""Bounded time, every phase: against a hung database or a stopped app, the later phases end
within their documented bound (postdeploy/run/bounds.py) and say which dependency failed.

first15 against the same faults is covered by test_first15_e2e.py and, against a socket that
never answers, by test_bad_input.py. Here all the later phases run in one pytest run per fault
(the bound is summed over their checks), so the test costs two runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from postdeploy.config import load_environment
from postdeploy.run.bounds import phase_bound
from sandboxrun import ATTESTED, ROOT, Sandbox, seed_history

LATER = "first_hour or first_24h or daily or weekly or pre_deploy"
# fault -> words one of the failed checks must say, naming what hung or went away
NAMED = {
    "db_frozen": ("no answer within", "timeout", "timed out", "canceling statement"),
    "app_down": ("cannot connect", "not running", "connection refused", "Connection refused"),
}


@pytest.mark.parametrize("fault", sorted(NAMED))
def test_later_phases_end_within_their_bound(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    seed_history(tmp_path, box.state())
    proc = box.cli("fault", fault)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        started = time.monotonic()
        run = box.run_suite(tmp_path, *ATTESTED, marks=LATER, timeout=600)
        seconds = time.monotonic() - started
    finally:
        healed = box.cli("heal", timeout=120)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    monkeypatch.setenv("POSTDEPLOY_SANDBOX_DIR", str(box.folder))  # local.toml reads the state through it
    limit, formula = phase_bound(load_environment("local", ROOT), len(run.record["checks"]))
    assert run.record.get("complete") is True, run.output[-3000:]
    assert seconds <= limit, f"{fault}: {seconds:.1f} s, over the bound {limit:.0f} s ({formula})"
    assert run.record["verdict"] in ("issues", "rollback") and "Traceback" not in run.output
    said = " ".join(c.get("summary", "") for c in run.record["checks"] if c["outcome"] != "passed")
    assert any(word in said for word in NAMED[fault]), f"{fault}: no check named the dependency: {said[:2000]}"
