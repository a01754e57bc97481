"""Unit and property tests of the later phases' arithmetic: slope, tolerances with floors, minimum samples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postdeploy.checks import trends
from postdeploy.checks.baseline import compare, key_actions
from postdeploy.checks.firsthour import combine, recent_window, too_young
from postdeploy.config import Baseline, Thresholds, Windows
from postdeploy.core import stats
from postdeploy.core.results import failed, inconclusive, passed

# After test_plugin.py's in-process pytester sessions hypothesis believes plugins are still
# initialising and warns that strategies are evaluated "at import time": a false alarm here.


def test_slope_of_a_line_is_exact():
    fit = stats.slope([(t, 100 + 2.5 * t) for t in range(10)])
    assert fit is not None
    assert fit.per_second == pytest.approx(2.5)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.per_hour() == pytest.approx(9000)
    assert fit.projection(10) == pytest.approx(100 + 2.5 * 9 + 25)


def test_slope_of_a_flat_series_is_zero_with_no_fit():
    fit = stats.slope([(t, 5.0) for t in range(10)])
    assert fit is not None and fit.per_second == 0 and fit.r2 == 0


def test_slope_needs_three_points_and_a_time_span():
    assert stats.slope([(0, 1), (1, 2)]) is None
    assert stats.slope([(1, 1), (1, 2), (1, 3)]) is None
    assert stats.slope([(0, 1), (1, float("nan")), (2, 3)]) is None


def test_noise_has_a_poor_fit():
    values = [0, 5, -4, 6, -5, 4, -6, 5, -4, 6]
    fit = stats.slope(list(enumerate(values)))
    assert fit is not None and fit.r2 < 0.2


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.integers(3, 50),
)
def test_slope_recovers_any_line(intercept, k, n):
    fit = stats.slope([(float(t), intercept + k * t) for t in range(n)])
    assert fit is not None
    assert fit.per_second == pytest.approx(k, rel=1e-6, abs=1e-6)
    assert 0.0 <= fit.r2 <= 1.0


@given(st.lists(st.tuples(st.floats(0, 1e6), st.floats(-1e9, 1e9)), max_size=40))
def test_slope_never_raises_and_r2_is_bounded(points):
    fit = stats.slope(points)
    assert fit is None or (0.0 <= fit.r2 <= 1.0 and math.isfinite(fit.per_second))


def test_within_uses_the_larger_of_share_and_floor():
    assert trends.within(1.25, 1.0, 0.2, 0.5)  # 25 % off but within the 0.5 floor
    assert not trends.within(13.0, 10.0, 0.2, 0.5)  # 30 % off, floor 0.5 < 2
    assert trends.within(12.0, 10.0, 0.2, 0.5)


def test_latency_floor_keeps_tiny_baselines_quiet():
    # 5 ms -> 20 ms is +300 % but only +15 ms: under the 50 ms floor.
    assert trends.compare_latency("p95 latency", 0.020, 0.005, 0.3, 0.05).ok is True
    d = trends.compare_latency("p95 latency", 0.130, 0.005, 0.3, 0.05)
    assert d.ok is False and "+125ms" in d.line() and "50ms" in d.line()
    # Faster is never a regression.
    assert trends.compare_latency("p95 latency", 0.001, 0.4, 0.3, 0.05).ok is True


def test_error_ratio_with_a_floor():
    assert trends.compare_errors("error rate", 0.004, 0.0, 2.0, 0.005).ok is True  # under the floor
    assert trends.compare_errors("error rate", 0.03, 0.01, 2.0, 0.005).ok is False  # 3x
    assert trends.compare_errors("error rate", 0.015, 0.01, 2.0, 0.005).ok is True
    assert trends.compare_errors("error rate", None, 0.01, 2.0, 0.005).ok is None


@given(st.floats(0, 1e4), st.floats(0, 1e4), st.floats(0, 1), st.floats(0, 100))
def test_within_is_symmetric_and_holds_at_the_baseline(a, b, tol, floor):
    assert trends.within(a, a, tol, floor)
    if a > 0 and b > 0:
        # Symmetric in the difference when the tolerance scales with the same base.
        assert trends.within(a, b, tol, floor) == (abs(a - b) <= max(tol * b, floor))


def test_minimum_sample_rule():
    assert not trends.enough(None, 50)
    assert not trends.enough(49, 50)
    assert trends.enough(50, 50)
    assert trends.short_of(3, 50, "requests", "5m") == "inconclusive: 3 requests in 5m, need 50"


def test_poisson_and_business_verdicts():
    assert stats.poisson_cdf(0, 3) == pytest.approx(math.exp(-3))
    assert stats.poisson_cdf(-1, 3) == 0.0
    assert trends.business_verdict(0, 40, 270, 1e5)[0] == "bad"  # 3 expected at the bound, none seen
    assert trends.business_verdict(0, 20, 5, 500)[0] == "unsure"  # a 20 s window cannot tell
    assert trends.business_verdict(2, 40, 270, 1e5)[0] == "ok"  # few, but within chance
    assert trends.business_verdict(30, 40, 270, 1e5)[0] == "ok"
    state, why = trends.business_verdict(100, 3600, 5, 50)
    assert state == "bad" and "above 50/h" in why


@given(st.integers(0, 60), st.floats(0.5, 50))
def test_poisson_cdf_is_a_probability_and_grows(k, lam):
    p = stats.poisson_cdf(k, lam)
    assert 0.0 <= p <= 1.0
    assert stats.poisson_cdf(k + 1, lam) >= p - 1e-12


def test_recent_window_starts_after_the_deploy_and_its_warmup():
    from datetime import UTC, datetime

    deployed = datetime.fromtimestamp(1000.0, UTC)
    assert recent_window(deployed, 1100.0, 3600.0, 60.0).seconds == 40.0
    assert recent_window(deployed, 99999.0, 3600.0, 60.0).seconds == 3600.0
    assert recent_window(deployed, 1010.0, 3600.0, 60.0).seconds == 0.0
    assert recent_window(None, 1010.0, 3600.0, 60.0).seconds == 3600.0
    young = too_young(recent_window(deployed, 1030.0, 3600.0, 10.0), Windows(), "dashboard")
    assert young is not None and young.outcome == "inconclusive" and "20s" in young.summary


def test_combine_fails_on_any_failure_and_is_never_a_pass_on_no_data():
    assert combine({"a": passed("fine"), "b": failed("bad")}, "dashboard").outcome == "failed"
    assert combine({"a": passed("fine"), "b": inconclusive("no data")}, "dashboard").outcome == "inconclusive"
    rollback = combine({"a": failed("10%", severity="critical"), "b": failed("cpu")}, "dashboard")
    assert rollback.severity == "critical"
    both = combine({"a": passed("fine"), "b": passed("ok")}, "dashboard")
    assert both.outcome == "passed" and "a: fine" in both.summary


def _snap(rate, p95, err, requests=500):
    return {"request_rate": rate, "p95": p95, "error_rate": err, "requests": requests, "window_s": 60}


def test_compare_reports_every_drift_with_its_numbers():
    r = compare(_snap(9.5, 0.2, 0.0), _snap(9.4, 0.02, 0.0), "record X", Baseline(), Thresholds(), "baseline.compare")
    assert r.outcome == "failed"
    assert "p95 latency" in r.summary and "+180ms" in r.summary and "record X" in r.evidence["baseline"]
    ok = compare(_snap(9.0, 0.03, 0.001), _snap(9.4, 0.02, 0.0), "x", Baseline(), Thresholds(), "baseline.compare")
    assert ok.outcome == "passed", ok.summary
    drop = compare(_snap(5.0, 0.02, 0.0), _snap(9.4, 0.02, 0.0), "x", Baseline(), Thresholds(), "baseline.compare")
    assert drop.outcome == "failed" and "request rate" in drop.summary


def test_compare_below_minimum_sample_is_inconclusive():
    r = compare(_snap(0.1, 0.02, 0.0, requests=3), _snap(9.4, 0.02, 0.0), "x", Baseline(), Thresholds(), "c")
    assert r.outcome == "inconclusive" and "3 requests" in r.summary and "need 50" in r.summary


def test_key_metric_actions():
    lines = key_actions({"error_rate": 0.06, "p50": 0.3, "p95": 2.5, "p99": 3.0}, Thresholds())
    text = " ".join(lines)
    assert "investigate immediately" in text and "check slow queries" in text
    assert "optimise" in text and "review slow queries" in text
    assert key_actions({"error_rate": 0.0, "p50": 0.01, "p95": 0.05, "p99": 0.1}, Thresholds()) == []


def test_settled_window_waits_only_within_its_bound():
    from datetime import UTC, datetime

    from postdeploy.checks.firsthour import settled_window

    deployed = datetime.fromtimestamp(1000.0, UTC)
    now = [1008.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    windows = Windows(warmup=3.0, min_window=10.0, max_wait=15.0)
    w = settled_window(deployed, 30.0, windows, clock=lambda: now[0], sleep=sleep)
    assert slept == [pytest.approx(5.05)] and w.seconds >= 10.0
    now[0], slept[:] = 1008.0, []
    w = settled_window(deployed, 30.0, Windows(warmup=3.0, min_window=10.0), clock=lambda: now[0], sleep=sleep)
    assert slept == [] and w.seconds == 5.0  # no waiting allowed: the check says inconclusive


def test_settled_window_right_after_a_heal_waits_out_the_warm_up_too():
    """Issue 11: started inside the warm-up, the wait came up short: "only 10s of data ..., need 10s"."""
    from datetime import UTC, datetime

    from postdeploy.checks.firsthour import settled_window

    deployed = datetime.fromtimestamp(1000.0, UTC)
    windows = Windows(warmup=3.0, min_window=10.0, max_wait=15.0)
    for start in (1000.5, 1002.1, 1002.9):  # pytest starts inside the 3 s warm-up
        now = [start]
        slept: list[float] = []

        def sleep(s: float, now=now, slept=slept) -> None:
            slept.append(s)
            now[0] += s * 0.97  # a sleep on a busy machine may end a little early: the clock decides

        w = settled_window(deployed, 60.0, windows, clock=lambda now=now: now[0], sleep=sleep)
        assert w.seconds >= 10.0, (start, slept, w)
        assert too_young(w, windows, "trend") is None
    # Too far off (beyond max_wait): no wait, and the message never rounds the shortfall away.
    from postdeploy.checks.metrics import Window

    young = too_young(Window(9.6), windows, "trend")
    assert young is not None and "only 9.6s of data" in young.summary and "need 10s" in young.summary


def test_every_windowed_check_is_inconclusive_while_young_without_asking():
    """Issue 13: one helper (firsthour.settled) makes each windowed check inconclusive right after a
    deploy, with its own advice, before any query or client is asked."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from postdeploy.checks import windowed

    def never(*_args: object) -> None:
        raise AssertionError("asked a source while the window was too young")

    prom = SimpleNamespace(value=never, query=never, query_range=never)
    env = SimpleNamespace(windows=Windows(), prometheus=SimpleNamespace(job="selftest"))
    just_now = datetime.now(UTC)
    calls = {
        "resources": lambda: windowed.resources(prom, env, just_now, never),
        "endpoints": lambda: windowed.endpoints(prom, env, just_now, never),
        "analytics": lambda: windowed.analytics(prom, env, just_now),
        "dashboard": lambda: windowed.dashboard(prom, env, just_now, never),
        "trend": lambda: windowed.trend(prom, env, just_now, never),
        "baseline.captured": lambda: windowed.baseline_captured(prom, env, just_now),
        "baseline.compare": lambda: windowed.baseline_compare(prom, env, just_now, None, "baseline.compare", never),
    }
    for check_id, call in calls.items():
        result = call()
        assert result.outcome == "inconclusive", check_id
        assert result.summary.endswith("need 1m; run this phase later"), (check_id, result.summary)
        expected = too_young(recent_window(just_now, just_now.timestamp(), 60.0, 60.0), Windows(), check_id)
        assert expected is not None and (result.summary, result.advice) == (expected.summary, expected.advice)
