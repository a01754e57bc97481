"""Production time: every phase at the guide's windows, on eight days of backfilled history.

`environments/local-prod.toml` is the sandbox at production windows (first15 15m, first_hour
1h, first_24h and daily 24h, baselines offset 1d and 1w, db_checks 1h, alerts_review 7d at
1m). Its sandboxes start with `python -m sandbox up --history 8d`: promtool writes the
service's series into Prometheus before it starts, on the live scrape's labels. The deploy is
placed 2 hours into the past with `--deployed-at`, as a later phase finds it in production,
so the windows fall on the backfilled data (a window is cut to the time since the deploy).

Three sandboxes, one after the other (never two of this module at once):
- healthy history: every phase ends `success` (manual items attested);
- history faults A: traffic_drop, memory_leak, connection_leak, alert_flapping,
  alert_always_firing, each caught by its check;
- history faults B: error_burst, latency_regression (a traffic drop would hide them: no
  requests, no errors), each caught by its check.
Nothing waits for time to pass: the history's timestamps are explicit, the deploy time is
given. A fault history ends when Prometheus starts; the live app after it is healthy, so the
fault checks run first, minutes after `up` (their windows are 5 min to 7 days long).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.infra import history
from sandboxrun import ATTESTED, Run, Sandbox, sandbox_env, seed_history, seed_size_history, start

pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")), reason="needs prometheus and promtool"
)

ENV = "local-prod"
DEPLOYED_AGO = 2 * 3600.0
PHASES = ("pre_deploy", "first15", "first_hour", "first_24h", "daily", "weekly")
FAULTS_A = ("traffic_drop", "memory_leak", "connection_leak", "alert_flapping", "alert_always_firing")
FAULTS_B = ("error_burst", "latency_regression")
# traffic.routed judges the last 5 minutes: the live app's healthy traffic after the
# history ends must stay under half of them, or the dropped traffic no longer shows.
LIVE_TAIL_BOUND = 140.0


def deployed_at() -> str:
    return (datetime.now(UTC) - timedelta(seconds=DEPLOYED_AGO)).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(run: Run) -> str:
    lines = [f"verdict {run.record.get('verdict')}, exit {run.returncode}, {run.seconds:.1f} s, report {run.folder}"]
    lines += [f"  reason: {r}" for r in run.record.get("verdict_reasons", [])]
    lines += [f"  {c['id']} {c['outcome']}: {c.get('summary', '')}" for c in run.record.get("checks", [])]
    return "\n".join(lines)


def up(folder: Path, *faults: str) -> Sandbox:
    return start(folder, "--history", "8d", *[a for f in faults for a in ("--history-fault", f)])


def history_end(box: Sandbox) -> float:
    """When the history ends: Prometheus started right after promtool wrote it (state.json)."""
    return datetime.fromisoformat(box.state()["started_at"]).timestamp()


# -- the history itself (no sandbox) ------------------------------------------------------------
def test_history_joins_the_live_series_and_ends_now() -> None:
    end = 2_000_000_000.0
    spec = history.Spec(8 * 86400, "127.0.0.1:8000", "/srv", (1e11, 5e10))
    lines = list(history.history_openmetrics("amani-backend", end, spec))
    assert lines[-1] == "# EOF"
    samples = [line for line in lines if not line.startswith("#")]
    stamps = [float(line.rsplit(" ", 1)[1]) for line in samples]
    assert min(stamps) >= end - 8 * 86400 and max(stamps) == end
    # The live scrape's labels, never labels of its own; every series the live app exports.
    assert all('job="amani-backend"' in line for line in samples)
    live = [line for line in samples if not line.startswith("ALERTS")]
    assert all('instance="127.0.0.1:8000"' in line for line in live)
    names = {line.split("{", 1)[0] for line in live}
    assert "errors_total" not in names  # the healthy app has none: a history one would read as the release's
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "db_connections_active",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "background_job_last_success_timestamp_seconds",
        "user_registrations_total",
        "escrow_transactions_total",
        "node_filesystem_avail_bytes",
    } <= names

    # Counters never fall; traffic swings over the day and is at its mean at the end.
    def ping(at: float) -> float:
        key = 'http_requests_total{job="amani-backend",instance="127.0.0.1:8000",method="GET",endpoint="/api/v1/ping"'
        return next(float(v.split(" ")[1]) for v in samples if v.startswith(key) and v.endswith(f" {at:.0f}"))

    hour = 3600.0
    last_hour, quarter_day_ago = ping(end) - ping(end - hour), ping(end - 6 * hour) - ping(end - 7 * hour)
    assert last_hour == pytest.approx(quarter_day_ago / (1 - history.DIURNAL), rel=0.05)


def test_history_faults_and_spans_are_checked() -> None:
    assert history.parse_span("8d") == 8 * 86400 and history.parse_span("36h") == 36 * 3600
    for bad in ("8", "eight days", "0d", "90d", "5m"):
        with pytest.raises(ValueError, match="--history"):
            history.parse_span(bad)
    end = 2_000_000_000.0
    spec = history.Spec(8 * 86400, "i:1", faults=("error_burst", "memory_leak", "alert_always_firing"))
    text = "\n".join(history.history_openmetrics("amani-backend", end, spec))
    assert 'errors_total{job="amani-backend",instance="i:1",error_type="OperationalError"' in text
    assert f'instance="{history.REPLICA}"' in text
    assert 'ALERTS{alertname="DatabaseConnectionIssues",alertstate="firing"' in text


def test_unknown_history_fault_is_a_one_line_usage_error(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, sandbox_env(tmp_path))
    proc = box.cli("up", "--history", "8d", "--history-fault", "moon_phase", timeout=30)
    assert proc.returncode == 2 and "unknown history fault 'moon_phase'" in proc.stdout, proc.stdout + proc.stderr
    proc = box.cli("up", "--history", "eight", timeout=30)
    assert proc.returncode == 2 and "expected a span like 8d" in proc.stdout, proc.stdout + proc.stderr
    assert not (tmp_path / "state.json").exists()


# -- healthy: every phase green -----------------------------------------------------------------
# Class-scoped: each sandbox is down before the next class starts its own.
@pytest.fixture(scope="class")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    box = up(tmp_path_factory.mktemp("prod-healthy"))
    reports = tmp_path_factory.mktemp("prod-reports")
    # The previous release's success (rollback target) and this release's staging run;
    # a database size record two days old (capacity needs a day of size history).
    seed_history(reports, box.state(), env=ENV)
    seed_size_history(box, reports, 2 * 86400, env=ENV)
    try:
        yield box, reports
    finally:
        box.cli("down")


@pytest.fixture(scope="class")
def faults_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    box = up(tmp_path_factory.mktemp("prod-faults-a"), *FAULTS_A)
    try:
        assert box.state()["history_faults"] == list(FAULTS_A)
        yield box, tmp_path_factory.mktemp("prod-faults-a-reports")
    finally:
        box.cli("down")


@pytest.fixture(scope="class")
def faults_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    box = up(tmp_path_factory.mktemp("prod-faults-b"), *FAULTS_B)
    try:
        yield box, tmp_path_factory.mktemp("prod-faults-b-reports")
    finally:
        box.cli("down")


class TestHealthyAtProductionWindows:
    @pytest.mark.parametrize("phase", PHASES)
    def test_phase_is_green(self, prod: tuple[Sandbox, Path], phase: str) -> None:
        box, reports = prod
        run = box.run_suite(reports, *ATTESTED, f"--deployed-at={deployed_at()}", marks=phase, env=ENV)
        assert run.record.get("phase") == phase, describe(run)
        assert run.record["verdict"] == "success" and run.returncode == 0 and not run.failed(), describe(run)
        if phase == "first_hour":
            # The windows read the history: an hour of samples, not the minute the app has lived.
            assert "over 3600s" in run.check("endpoints")["summary"], describe(run)
            assert "over 3600s" in run.check("db.connections")["summary"], describe(run)
        if phase == "weekly":
            assert "fired in 168h" in run.check("alerts.tuning")["summary"], describe(run)

    @pytest.mark.parametrize("phase", ("first_24h", "weekly"))
    def test_a_watch_at_production_windows_is_green(self, prod: tuple[Sandbox, Path], phase: str) -> None:
        """Three evaluations of the 24 h and 7 d windows; first_24h's window counts from the deploy
        2 hours ago, so its watch is set to close 20 s from now."""
        box, reports = prod
        window = f"{DEPLOYED_AGO + 20:.0f}s" if phase == "first_24h" else "20s"
        args = (*ATTESTED, f"--deployed-at={deployed_at()}", "--watch", window, "--watch-interval", "10s")
        run = box.run_suite(reports, *args, marks=phase, env=ENV)
        w = run.record.get("watch") or {}
        assert w.get("decision") == "success" and len(w["evaluations"]) >= 2, describe(run)
        assert all(set(e["checks"].values()) == {"passed"} for e in w["evaluations"]), w["evaluations"]
        assert run.record["verdict"] == "success", describe(run)


# -- history faults, each caught at production windows ------------------------------------------
def failed_with(run: Run, check_id: str, *patterns: str) -> str:
    check = run.check(check_id)
    summary = check.get("summary", "")
    assert check["outcome"] == "failed", f"{check_id} was {check['outcome']}: {summary}\n{describe(run)}"
    for pattern in patterns:
        assert re.search(pattern, summary), f"{check_id}: {pattern!r} not in {summary!r}"
    return summary


class TestHistoryFaultsA:
    def test_first_hour_catches_the_drop_and_the_leaks(self, faults_a: tuple[Sandbox, Path]) -> None:
        box, reports = faults_a
        tail = time.time() - history_end(box)
        assert tail < LIVE_TAIL_BOUND, f"the run starts {tail:.0f} s after the history ends: too late to judge"
        run = box.run_suite(reports, *ATTESTED, f"--deployed-at={deployed_at()}", marks="first_hour", env=ENV)
        failed_with(run, "traffic.routed", r"more than 50% below the baseline", r"over 5m")
        failed_with(run, "resources", rf"memory grows steadily on {re.escape(history.REPLICA)}", r"over 1h")
        # The replica's pool: at 28 (its last value, for the 5 minutes after its series ends) and growing.
        failed_with(run, "db.connections", r"28 connections is at or above 80% of the pool", r"connections are growing")
        assert run.record["verdict"] != "success"

    def test_a_first_hour_watch_confirms_the_leaks(self, faults_a: tuple[Sandbox, Path]) -> None:
        """The same history watched: the leaks fail every evaluation, so the second ends the watch."""
        box, reports = faults_a
        window = f"{DEPLOYED_AGO + 120:.0f}s"
        args = (*ATTESTED, f"--deployed-at={deployed_at()}", "--watch", window, "--watch-interval", "5s")
        run = box.run_suite(reports, *args, marks="first_hour", env=ENV)
        w = run.record.get("watch") or {}
        assert w.get("decision") == "issues" and len(w["evaluations"]) == 2, describe(run)
        confirmed = {r.split(":", 1)[0] for r in w["reasons"] if r.endswith("(failed 2 evaluations in a row)")}
        assert {"resources", "db.connections"} <= confirmed, w["reasons"]

    def test_weekly_review_flags_the_flapping_and_the_stuck_alert(self, faults_a: tuple[Sandbox, Path]) -> None:
        box, reports = faults_a
        run = box.run_suite(reports, *ATTESTED, "-k", "alerts_tuning", marks="weekly", env=ENV)
        failed_with(
            run,
            "alerts.tuning",
            r"DatabaseConnectionIssues always firing since ",
            r"flapping alert\(s\) in 168h: HighResponseTime",
        )


class TestHistoryFaultsB:
    def test_first15_catches_the_error_burst(self, faults_b: tuple[Sandbox, Path]) -> None:
        box, reports = faults_b
        run = box.run_suite(reports, *ATTESTED, f"--deployed-at={deployed_at()}", "-k", "error_rate", env=ENV)
        failed_with(run, "error_rate", r"error rate [1-3]\d\.\d\d% \(\d+ of \d+ requests[^)]*\) is above the rollback bound 10%")
        assert run.record["verdict"] == "rollback", describe(run)

    def test_first_24h_compare_catches_the_latency_regression(self, faults_b: tuple[Sandbox, Path]) -> None:
        box, reports = faults_b
        run = box.run_suite(
            reports, *ATTESTED, f"--deployed-at={deployed_at()}", "-k", "baseline_compare", marks="first_24h", env=ENV
        )
        failed_with(run, "baseline.compare", r"p95 latency: now 2\d\dms, baseline \d+ms, .*OUT OF TOLERANCE")
