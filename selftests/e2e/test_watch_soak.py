"""A watched healthy deployment never raises an alarm: `--watch` run after run ends success.

The watch judges the error rate again and again with a sequential test; on a healthy
deployment it must never decide anything but "watching" before its window closes, and then
success. Each run redeploys the healthy sandbox (a heal is a fresh deploy: the window counts
from it) and runs `pytest -m first15 --env local --watch 30s --watch-interval 3s`, as an
on-call engineer would after a deploy (the window shortened). By default 2 runs (about
32 s each on a 2-core machine); POSTDEPLOY_WATCH_SOAK_RUNS sets the number: `make soak`
runs twenty. Every run is its own test, so a false alarm shows how often it came.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandboxrun import Sandbox, describe, runs_wanted, sandbox_status

RUNS_VAR = "POSTDEPLOY_WATCH_SOAK_RUNS"
WINDOW = 30.0  # seconds, counted from the deploy
ARGS = ("--watch", "30s", "--watch-interval", "3s")


@pytest.mark.parametrize("n", range(1, runs_wanted(RUNS_VAR, 2) + 1), ids=lambda n: f"watch-{n:02d}")
def test_healthy_watched_run_raises_no_alarm(box: Sandbox, tmp_path: Path, n: int) -> None:
    """A fresh healthy deploy, watched: success at or after the close, nothing decided before it."""
    box.heal()
    status = sandbox_status(box)
    assert not status["faults"] and status["components"]["traffic"]["state"] == "running", status
    # Bounded: the one-shot checks, the window (from the deploy) and the reports, with margin.
    run = box.run_suite(tmp_path, *ARGS, timeout=150)
    assert "watch" in run.record, describe(run)
    w = run.record["watch"]
    evs = w["evaluations"]
    early = [e for e in evs if e["elapsed"] < WINDOW and e["decision"] != "watching"]
    assert not early, f"run {n}: decided before the window closed: {early}\n{describe(run)}"
    assert w["status"] == "decided" and w["decision"] == "success", f"run {n}: {w['reasons']}\n{describe(run)}"
    assert w["decided_after_s"] >= WINDOW and evs[-1]["elapsed"] >= WINDOW, w
    assert all(e["decision"] == "watching" for e in evs[:-1]), [e["decision"] for e in evs]
    assert evs[-1]["requests"] >= run.record["thresholds"]["min_requests"], evs[-1]
    assert run.record["verdict"] == "success" and run.returncode == 0 and not run.failed(), describe(run)
