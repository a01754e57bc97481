"""The healthy sandbox never raises an alarm: run after run, every verdict is success.

A check that fails now and then on a healthy deployment teaches people to ignore the
verdict, so this runs every phase against the healthy sandbox, with its synthetic traffic
running, many times in a row, into one reports folder (as in use: api.surface, staging.passed
and db.size read the earlier records). One cycle is first15, first15 `-n 2`, first_hour,
first_24h, daily, weekly, pre_deploy; manual items are attested, as a person would. By
default 14 runs (two cycles, about 1.5 minutes on a 2-core machine).
POSTDEPLOY_FALSE_ALARM_RUNS sets the number of runs (same order, cut or repeated):
`make soak` runs 140, twenty of every phase. Every run is its own test, so a flaky check
shows how often it failed, not only once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandboxrun import (
    ATTESTED,
    Sandbox,
    describe,
    runs_wanted,
    sandbox_status,
    seed_history,
    seed_size_history,
    wait_release_age,
)

RUNS_VAR = "POSTDEPLOY_FALSE_ALARM_RUNS"
# One cycle of the schedule: mostly the serial first15 run people start after a deploy,
# with the xdist and first-hour runs spread between them rather than bunched at the end.
CYCLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("first15", ()),
    ("first15", ("-n", "2")),
    ("first_hour", ()),
    ("first_24h", ()),
    ("daily", ()),
    ("weekly", ()),
    # Last, as in use: its load probe is a burst the rate comparisons of the sandbox's short
    # windows (trend, baseline.compare) would see for a minute; nobody runs `daily` right
    # after a pre-deploy probe, and a production window of hours does not notice 60 requests.
    ("pre_deploy", ()),
)
# Seconds: windows.analytics + windows.warmup of environments/local.toml.
RELEASE_AGE = 43.0
# Seconds an alert of the sandbox's rules may take to resolve after a fault (1m windows, `for: 30s`).
ALERTS_WAIT = 180.0


SCHEDULE = [CYCLE[i % len(CYCLE)] for i in range(runs_wanted(RUNS_VAR, 14))]


def wait_alerts_resolved(box: Sandbox, bound: float) -> None:
    """Wait (at most `bound` s) until Alertmanager shows no active alert; fail if it never does."""
    url = f"{box.state()['alertmanager_url']}/api/v2/alerts?active=true&silenced=false&inhibited=false"
    deadline = time.monotonic() + bound
    while True:
        firing = [a["labels"].get("alertname") for a in httpx.get(url, timeout=5).json()]
        if not firing or time.monotonic() > deadline:
            break
        time.sleep(5)  # bounded poll: Prometheus' rules resolve on their own evaluation interval
    assert not firing, f"alerts still firing {bound:.0f} s after the heal: {firing}"


@pytest.fixture(scope="module")
def healthy(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Heal the shared sandbox (other modules inject faults into it) and share one reports folder.

    The one folder lets api.surface compare each run with the previous successful one, as
    it does in use.
    """
    healed = box.cli("heal", timeout=120)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    status = sandbox_status(box)
    assert status["ready"] and not status["faults"], status
    assert status["components"]["traffic"]["state"] == "running", status["components"]["traffic"]
    reports = tmp_path_factory.mktemp("no-false-alarms")
    # The previous release's successful record (the rollback target pre_deploy looks for) and the
    # staging verification of this version: laid here, so no run depends on an earlier one.
    seed_history(reports, box.state())
    # The heal redeployed the app: give it the longest local window (analytics, 40 s) plus its
    # warm-up, as an on-call engineer's first-hour run would find it, before the first run.
    wait_release_age(box, RELEASE_AGE)
    # Alerts that earlier modules' faults set off (HighErrorRate after a 5xx burst) are real
    # and morning.health reports them; a healthy start means they have resolved.
    wait_alerts_resolved(box, ALERTS_WAIT)
    yield reports


@pytest.mark.parametrize(
    ("marks", "args"),
    SCHEDULE,
    ids=[f"{n:02d}-{marks}{'-n2' if args else ''}" for n, (marks, args) in enumerate(SCHEDULE, 1)],
)
def test_healthy_run_raises_no_alarm(box: Sandbox, healthy: Path, marks: str, args: tuple[str, ...]) -> None:
    """One run of a phase against the healthy sandbox: verdict success, exit code 0, no failed check."""
    # Manual items stay pending (verdict issues) until a person attests them: here one does.
    args = (*args, *ATTESTED)
    if marks == "weekly":
        # capacity needs an hour of size history: written with its timestamp, whatever ran before.
        seed_size_history(box, healthy, 3600)
    run = box.run_suite(healthy, *args, marks=marks)
    assert run.record.get("phase") == marks, describe(run)
    assert run.record["verdict"] == "success" and run.returncode == 0 and not run.failed(), describe(run)
    # Had the sandbox changed under the run, a pass would not be a pass against a healthy target.
    status = sandbox_status(box)
    assert not status["faults"] and status["components"]["traffic"]["state"] == "running", status
