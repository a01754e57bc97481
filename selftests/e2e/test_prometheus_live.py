"""Range queries and the ALERTS history against the sandbox's real Prometheus (no mocks).

One Prometheus for the module, started with the sandbox's own helper in a folder of its
own. Before it starts, `promtool tsdb create-blocks-from openmetrics` writes an ALERTS
history into its TSDB (blocks present at start are visible at once): an alert that fired
through the last eight days, one that flapped, and one that fired once and resolved.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postdeploy.checks import alerts, capacity, diagnostics, firsthour
from postdeploy.checks.metrics import Window
from postdeploy.config import AlertsReview, Capacity, Prometheus, Thresholds
from postdeploy.core.errors import BadResponse
from postdeploy.outputs import charts
from postdeploy.sources.promql import MAX_POINTS, PromClient, range_params, range_step
from sandbox.common import state
from sandbox.infra.prometheus import PrometheusServer

DAY = 86400.0
ALWAYS = "AlwaysOnDatabaseIssue"
FLAPPY = "FlappyLatency"
ONCE = "OnceResolved"

pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")), reason="needs prometheus and promtool"
)


def alerts_history(now: float) -> str:
    """ALERTS series as Prometheus' rule manager writes them, in OpenMetrics (timestamps in seconds)."""
    out = ["# TYPE ALERTS gauge"]
    start = now - 8 * DAY

    def series(name: str, severity: str, times: list[float]) -> None:
        lab = f'{{alertname="{name}",alertstate="firing",severity="{severity}",source="selftest"}}'
        out.extend(f"ALERTS{lab} 1 {t:.0f}" for t in times)

    step = 60.0
    grid = [start + i * step for i in range(int((now - start) / step) + 1)]
    series(ALWAYS, "critical", grid)
    # Fires 3 minutes of every 2 hours: 12 episodes a day.
    series(FLAPPY, "warning", [t for t in grid if (t - start) % 7200 < 180])
    # Fired 20 minutes three days ago, then resolved.
    series(ONCE, "warning", [t for t in grid if now - 3 * DAY <= t < now - 3 * DAY + 1200])
    out.append("# EOF")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def prom_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PromClient, float]]:
    # Out of the worktree and short: the TSDB under /tmp, removed at the end.
    work = Path(tempfile.mkdtemp(prefix="pdprom-", dir="/tmp"))
    built = time.time()
    tsdb = work / "prometheus" / "tsdb"
    tsdb.mkdir(parents=True)
    source = work / "alerts.om"
    source.write_text(alerts_history(built))
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    log = (work / "prometheus.log").open("ab")
    server = PrometheusServer(work, log)
    port = None
    for _ in range(5):
        port = state.pick_port()
        try:
            # Nothing listens on the "app" port: the scrape fails, the API answers all the same.
            server.start(port, state.pick_port({port}))
            break
        except Exception:  # a port taken between the pick and the bind: try another
            server.stop()
            port = None
    assert port is not None, (work / "prometheus.log").read_text()[-2000:]
    client = PromClient(Prometheus(url=server.url, job="selftest", timeout=10.0))  # type: ignore[arg-type]
    try:
        yield client, built
    finally:
        client.close()
        server.stop()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


# -- one step function ------------------------------------------------------------------------
WINDOWS = st.floats(min_value=1.0, max_value=30 * DAY, allow_nan=False)
OFFSETS = st.floats(min_value=0.0, max_value=30 * DAY, allow_nan=False)


@given(
    span=st.floats(min_value=0.0, max_value=400 * DAY, allow_nan=False),
    points=st.integers(min_value=1, max_value=10 * MAX_POINTS),
    minimum=st.floats(min_value=0.0, max_value=DAY, allow_nan=False),
)
def test_range_step_is_whole_seconds_and_bounded(span: float, points: int, minimum: float) -> None:
    step = range_step(span, points, minimum)
    assert isinstance(step, int) and step >= 1
    assert step >= math.ceil(minimum - 1e-9)
    assert math.floor(span / step) + 1 <= MAX_POINTS


def test_fractional_steps_of_the_field_report_become_whole_seconds() -> None:
    # "3.6531s" (db.connections 7 min after a deploy) and 60.48 s (alerts.tuning, 7d / 10,000).
    assert range_params("up", 0.0, 438.372, 3.6531)["step"] == "4s"
    assert range_params("up", 0.0, 7 * DAY, 60.48)["step"] == "61s"
    assert range_step(7 * DAY, MAX_POINTS, 60.0) == 60


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    window=WINDOWS,
    offset=OFFSETS,
    points=st.sampled_from([10, 12, 120, MAX_POINTS]),
    minimum=st.sampled_from([0.0, 1.0, 5.0, 60.0]),
)
def test_every_window_and_offset_is_a_query_prometheus_accepts(
    prom_server: tuple[PromClient, float], window: float, offset: float, points: int, minimum: float
) -> None:
    prom, _ = prom_server
    end = time.time() - offset
    step = range_step(window, points, minimum)
    params = range_params("vector(1)", end - window, end, step)
    assert re.fullmatch(r"[1-9][0-9]*s", params["step"])
    series = prom.query_range("vector(1)", end - window, end, step)  # raises BadResponse on bad_data
    assert len(series) == 1 and 1 <= len(series[0].points) <= MAX_POINTS


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=WINDOWS, since_deploy=st.floats(min_value=1.0, max_value=30 * DAY, allow_nan=False))
def test_the_callers_send_only_queries_prometheus_accepts(
    prom_server: tuple[PromClient, float], window: float, since_deploy: float
) -> None:
    """The real check functions, at any window: none may read a Prometheus `bad_data` answer."""
    prom, _ = prom_server
    now = time.time()
    span = charts.span_for(now, now - since_deploy, window, 60.0, 120)
    charts.p95_series(prom, "selftest", span)
    charts.error_rate_series(prom, "selftest", span)
    review = alerts.alerts_tuning(prom, AlertsReview(window=window, step=60.0), now)  # type: ignore[arg-type]
    assert "bad_data" not in review.summary and "cannot read" not in review.summary, review.summary
    memory = firsthour.memory_trend(prom, "selftest", Window(window), now, Thresholds())
    assert "cannot read" not in memory.summary, memory.summary
    cfg = Capacity(mountpoint="/", disk_window=window)  # type: ignore[arg-type]
    problems, _, _ = capacity.disk_outlook(prom, cfg, now)
    assert all("bad_data" not in p for p in problems), problems
    assert "could not" not in diagnostics.rss_series(prom, "selftest", window)


def test_a_bad_step_would_have_been_refused(prom_server: tuple[PromClient, float]) -> None:
    """The test above can fail: Prometheus refuses the old fractional step and too many points."""
    prom, _ = prom_server
    for step in ("3.6531s", "1s"):
        span = 438.0 if step != "1s" else 30 * DAY
        with pytest.raises(BadResponse, match="bad_data"):
            prom._get("/api/v1/query_range", {"query": "vector(1)", "start": "0", "end": str(span), "step": step})


# -- alerts.tuning on a week of ALERTS history -------------------------------------------------
def test_an_alert_firing_all_week_fails_alerts_tuning(prom_server: tuple[PromClient, float]) -> None:
    prom, built = prom_server
    # The guide's review: 7 days at 1 minute, ending where the history ends.
    result = alerts.alerts_tuning(prom, AlertsReview(), built)
    assert result.outcome == "failed", result.message()
    assert f"{ALWAYS} always firing since " in result.summary
    assert "fired through the whole 168h window" in result.summary
    assert f"flapping alert(s) in 168h: {FLAPPY}" in result.summary
    assert ONCE not in result.summary and "1 time(s)" in result.evidence[f"fired {ONCE}"]
    assert "never stopped" in result.evidence[f"fired {ALWAYS}"]


def test_an_alert_that_stopped_is_not_always_firing(prom_server: tuple[PromClient, float]) -> None:
    prom, built = prom_server
    # A window that ends two days ago but starts before ONCE fired: ALWAYS and FLAPPY are
    # in it too; ONCE fired once and stopped, so it is listed, not flagged.
    result = alerts.alerts_tuning(prom, AlertsReview(window=4 * 3600.0, step=60.0), built - 3 * DAY + 3600)  # type: ignore[arg-type]
    assert ONCE not in result.summary, result.summary
    assert f"fired {ONCE}" in result.evidence
    assert ALWAYS in result.summary
