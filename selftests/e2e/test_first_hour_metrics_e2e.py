"""End to end: the metric checks of first_hour, first_24h, pre_deploy and daily against a real sandbox.

Healthy, each phase's metric checks pass; with a fault injected, the check it concerns
fails and its record shows the evidence. Only this module's checks are selected (other
checks of the same phases live in other modules), by running the metric test files.
Faults whose checks are independent share one injection, to keep the waits few: every
metric needs its window of data after the fault before it can show it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandboxrun import Run, Sandbox, repeat_until, wait_live_data, wait_release_age

FILES = {
    "first_hour": "tests_metrics/test_first_hour_metrics.py",
    "first_24h": "tests_metrics/test_first_24h_metrics.py",
    "pre_deploy": "tests_metrics/test_pre_deploy_baseline.py",
    "daily": "tests_metrics/test_daily_trend.py",
}
MINE = {
    "first_hour": {"traffic.routed", "resources", "endpoints", "jobs.schedule", "analytics"},
    "first_24h": {"dashboard", "baseline.compare"},
    "pre_deploy": {"baseline.captured"},
    "daily": {"trend"},
}
# The local env judges windows of at least 10 s after a 3 s warm-up (environments/local.toml).
YOUNGEST = 14.0
# How long past its minimum a fault may take to show on a busy machine: the runs repeat until then.
BOUND = 60.0


def run_phase(box: Sandbox, reports: Path, phase: str):
    return box.run_suite(reports, FILES[phase], marks=phase)


def test_healthy_sandbox_passes_the_metric_checks(box: Sandbox, tmp_path: Path):
    wait_release_age(box, YOUNGEST + 6)
    # first_24h before pre_deploy: with no baseline in the record history, item 22 compares
    # with the same window yesterday (the sandbox's synthetic history).
    for phase in ("first_hour", "first_24h", "daily", "pre_deploy"):
        run = run_phase(box, tmp_path, phase)
        assert run.outcomes() == dict.fromkeys(MINE[phase], "passed"), run.output[-4000:]
        assert run.returncode == 0 and run.record["verdict"] == "success"
    first_hour = tmp_path / "local"
    records = [json.loads(p.read_text()) for p in sorted(first_hour.glob("*/record.json"))]
    by_id = {c["id"]: c for r in records for c in r["checks"]}
    # Evidence: slope and projection, the offset query, per-endpoint p95, job sources.
    resources = json.dumps(by_id["resources"])
    assert "slope" in resources and "projected in 1h" in resources and "r2" in resources
    compare = json.dumps(by_id["baseline.compare"])
    assert "offset 1d" in compare and "p95 latency" in compare and "allowed" in compare
    assert "offset 1d" in json.dumps(by_id["trend"])
    assert "p95" in by_id["endpoints"]["evidence"]["endpoint /api/v1/projects"]
    jobs = json.dumps(by_id["jobs.schedule"])
    assert "SQL SELECT max(captured_at)" in jobs and "metric max(background_job_last_success" in jobs
    # The pre-deployment baseline is structured data in the record.
    snap = by_id["baseline.captured"]["data"]["baseline"]
    assert snap["request_rate"] > 1 and snap["p95"] is not None and snap["p99"] is not None
    assert snap["endpoints"]["/api/v1/projects"]["p95"] is not None


# (faults injected together, seconds of fault data the windows need, phases, {check: words its record must hold})
GROUPS = [
    (
        ("traffic_drop", "job_stalled", "cpu_burn"),
        YOUNGEST,
        ("first_hour",),
        {
            "traffic.routed": "more than 50% below the baseline",
            "jobs.schedule": "Email sending: last run",
            "resources": "CPU",
        },
    ),
    (
        ("no_registrations", "memory_leak", "endpoint_5xx"),
        41.0,  # the 40 s analytics window must hold no sign-up at all
        ("first_hour", "first_24h"),
        {
            "analytics": "registrations 0/h",
            "resources": "memory grows steadily",
            "endpoints": "/api/v1: ",
            "dashboard": "memory grows steadily",
        },
    ),
]


@pytest.mark.parametrize("faults,settle,phases,expected", GROUPS, ids=["+".join(g[0]) for g in GROUPS])
def test_faults_fail_their_checks(box: Sandbox, tmp_path: Path, faults, settle, phases, expected):
    def caught(runs: list[Run]) -> bool:
        found = {c: r.outcomes()[c] for r in runs for c in expected if c in r.outcomes()}
        return all(found.get(c) == "failed" for c in expected)

    try:
        since = box.fault(*faults)
        wait_live_data(box, since, settle, f"{settle:.0f} s of data under {faults}")
        runs = repeat_until(box, lambda: [run_phase(box, tmp_path, phase) for phase in phases], caught, BOUND)
    finally:
        box.heal()
    for check_id, words in expected.items():
        run = next(r for r in runs if check_id in r.outcomes())
        assert run.outcomes()[check_id] == "failed", f"{faults}: {check_id}: {run.text(check_id)}"
        assert words in run.text(check_id), f"{faults}: {check_id} says {run.text(check_id)}"
        assert run.returncode == 1 and "Traceback" not in run.output
    if "endpoint_5xx" in faults:
        text = next(r for r in runs if "endpoints" in r.outcomes()).text("endpoints")
        assert "diagnosis: top failing endpoints" in text and "/api/v1" in text
    if "memory_leak" in faults:
        assert "diagnosis: RSS series" in next(r for r in runs if "resources" in r.outcomes()).text("resources")
    if "cpu_burn" in faults:
        # The CPU part failed, not the memory part (each part says its own outcome).
        evidence = next(r for r in runs if "resources" in r.outcomes()).check("resources")["evidence"]
        assert evidence["memory"].startswith("passed") and evidence["cpu"].startswith("failed"), evidence


def test_latency_regression_fails_the_baseline_and_the_trend_not_first15(box: Sandbox, tmp_path: Path):
    wait_release_age(box, YOUNGEST)
    baseline = run_phase(box, tmp_path, "pre_deploy")
    assert baseline.outcomes() == {"baseline.captured": "passed"}, baseline.output[-3000:]
    def caught(runs: tuple[Run, Run]) -> bool:
        return runs[0].outcomes()["baseline.compare"] == "failed" and runs[1].outcomes()["trend"] == "failed"

    try:
        since = box.fault("latency_regression")
        # windows.rate (10 s) of slower requests before the comparison can see them.
        wait_live_data(box, since, 10, "10 s of data under latency_regression")
        compare, trend = repeat_until(
            box, lambda: (run_phase(box, tmp_path, "first_24h"), run_phase(box, tmp_path, "daily")), caught, BOUND
        )
        first15 = box.run_suite(tmp_path, "tests_metrics/test_first15_metrics.py", marks="first15")
    finally:
        box.heal()
    assert compare.outcomes()["baseline.compare"] == "failed", compare.text("baseline.compare")
    said = compare.text("baseline.compare")
    assert "p95 latency" in said and "OUT OF TOLERANCE" in said and "pre_deploy record" in said
    assert "diagnosis: slowest statements" in said
    assert trend.outcomes()["trend"] == "failed" and "p95 latency" in trend.text("trend")
    # Small in absolute terms: the first-15-minutes p95 bound (500 ms) still holds.
    assert first15.outcomes()["latency.p95"] == "passed", first15.text("latency.p95")
