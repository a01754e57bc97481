"""The watch's sequential decision (postdeploy/outputs/watch.py): data we construct, a fake clock, no sandbox."""

from __future__ import annotations

import math
import random

import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from postdeploy.core.results import Result, failed, passed
from postdeploy.outputs import watch, watchview

POLICY = watch.Policy(major=0.01, rollback=0.10, alpha=0.01, beta=0.01, min_requests=50, min_latency_requests=50)


def err(errors: float, n: float, rollback: float = 0.10) -> Result:
    rate = errors / n if n else 0.0
    if n < 50:
        return Result("inconclusive", f"{n:.0f} requests, need 50", data={"requests": n, "errors": errors})
    if rate >= rollback:
        return failed(f"error rate {rate:.2%}", severity="critical", data={"requests": n, "errors": errors})
    if rate >= 0.01:
        return failed(f"error rate {rate:.2%}", data={"requests": n, "errors": errors})
    return passed(f"error rate {rate:.2%}", data={"requests": n, "errors": errors})


def lat(p95: float, n: float) -> Result:
    if n < 50:
        return Result("inconclusive", "too few", data={"requests": n, "p95": p95})
    return (failed if p95 >= 0.5 else passed)(f"p95 {p95 * 1000:.0f} ms", data={"requests": n, "p95": p95})


def healthy(n: float = 1000, errors: float = 0) -> dict[str, Result]:
    return {
        "error_rate": err(errors, n),
        "latency.p95": lat(0.05, n),
        "logs.clean": passed("no ERROR"),
        "sentry.new": passed("no issue"),
    }


def test_sprt_lines_are_walds():
    t = watch.Sprt(0.10, 0.20, 0.01, 0.01)
    assert t.upper == pytest.approx(math.log(99))
    assert t.lower == pytest.approx(-math.log(99))
    assert t.decide(0, 0) == watch.UNDECIDED
    assert t.decide(30, 100) == watch.ABOVE
    assert t.decide(0, 100) == watch.BELOW


@given(n=st.integers(1, 100_000), errors=st.integers(0, 100_000))
def test_sprt_crossing_rate_agrees_with_the_decision(n, errors):
    errors = min(errors, n)
    t = watch.Sprt(0.10, 0.20)
    bound = t.rate_above(n)
    assert bound is not None
    # Above the crossing rate (with a hair of float slack) the test says "above", below it never does.
    if errors / n > bound + 1e-9:
        assert t.decide(errors, n) == watch.ABOVE
    elif errors / n < bound - 1e-9:
        assert t.decide(errors, n) != watch.ABOVE


@given(n=st.integers(1, 50_000), errors=st.integers(0, 50_000))
def test_a_rollback_crossing_is_always_a_rate_above_the_bound(n, errors):
    """The early rollback never fires on an observed rate at or below the rollback bound."""
    errors = min(errors, n)
    ev = watch.evaluate({"error_rate": err(errors, n)}, POLICY, at=0, elapsed=10, window=900)
    if ev.decision == "rollback":
        assert errors / n > POLICY.rollback


@given(n=st.integers(0, 20_000), elapsed=st.floats(0, 899.9))
def test_healthy_is_never_success_before_the_window_closes(n, elapsed):
    ev = watch.evaluate(healthy(n), POLICY, at=elapsed, elapsed=elapsed, window=900)
    assert ev.decision == watch.PENDING


def test_healthy_is_success_once_the_window_has_closed_on_enough_data():
    ev = watch.evaluate(healthy(1000), POLICY, at=900, elapsed=900, window=900)
    assert ev.decision == "success"
    ev = watch.evaluate(healthy(20), POLICY, at=900, elapsed=900, window=900)
    assert ev.decision == "issues"  # too few requests: inconclusive is never a pass
    assert "need 50" in ev.reasons[0]


def test_thirty_percent_decides_rollback_early_on_few_requests():
    ev = watch.evaluate({"error_rate": err(15, 50)}, POLICY, at=20, elapsed=20, window=900)
    assert ev.decision == "rollback"
    assert "rollback bound 10%" in ev.reasons[0] and "15 of 50" in ev.reasons[0]


def test_a_few_errors_early_decide_nothing():
    ev = watch.evaluate({"error_rate": err(2, 30)}, POLICY, at=5, elapsed=5, window=900)
    assert ev.decision == watch.PENDING


def test_major_crossing_waits_until_rollback_is_ruled_out():
    # 10 of 60 (17 %): above 1 % with confidence, and 10 % not yet ruled out at that size.
    ev = watch.evaluate({"error_rate": err(10, 60)}, POLICY, at=30, elapsed=30, window=900)
    assert ev.major_test == watch.ABOVE
    assert ev.rollback_test == watch.UNDECIDED
    assert ev.decision == watch.PENDING and ev.so_far.startswith("issues")
    # 10 of 137 (7.3 %, a fault diluted by the clean seconds before it): "more like 10 % than
    # 20 %" already, but not clearly below 10 %: no early "issues" while a rollback may come.
    ev = watch.evaluate({"error_rate": err(10, 137)}, POLICY, at=12, elapsed=12, window=900)
    assert ev.rollback_test == watch.BELOW and not ev.rollback_ruled_out
    assert ev.decision == watch.PENDING
    # 3 % of 1000: above 1 %, and clearly below 10 %: issues, decided.
    ev = watch.evaluate({"error_rate": err(30, 1000)}, POLICY, at=90, elapsed=90, window=900)
    assert ev.decision == "issues"


def test_a_new_error_line_or_sentry_issue_decides_issues_at_once():
    for cid in ("logs.clean", "sentry.new"):
        results = {**healthy(100), cid: failed("1 new thing")}
        ev = watch.evaluate(results, POLICY, at=8, elapsed=8, window=900)
        assert ev.decision == "issues" and ev.reasons == [f"{cid}: 1 new thing"]
    # Without an error-rate check there is no rollback to wait for either.
    ev = watch.evaluate({"logs.clean": failed("ERROR line")}, POLICY, at=1, elapsed=1, window=900)
    assert ev.decision == "issues"


def test_p95_is_judged_once_the_minimum_sample_is_in():
    slow = {"error_rate": err(0, 40), "latency.p95": lat(1.1, 40)}
    assert watch.evaluate(slow, POLICY, at=3, elapsed=3, window=900).decision == watch.PENDING
    slow = {"error_rate": err(0, 400), "latency.p95": lat(1.1, 400)}
    ev = watch.evaluate(slow, POLICY, at=40, elapsed=40, window=900)
    assert ev.decision == "issues" and "p95 1100 ms" in ev.reasons[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_rate_at_half_the_bound_rarely_rolls_back(seed):
    """Simulated traffic at 5 %: the rollback test (alpha 1 %) must not fire in a 15-minute watch."""
    rng = random.Random(seed)
    n = e = 0
    for _ in range(90):  # 90 looks of 100 requests
        n += 100
        e += sum(rng.random() < 0.05 for _ in range(100))
        ev = watch.evaluate({"error_rate": err(e, n)}, POLICY, at=0, elapsed=10, window=900)
        assert ev.decision != "rollback", (e, n)


def test_run_stops_at_the_decision_and_keeps_every_evaluation():
    clock = FakeClock(1000.0)
    deployed = 1000.0

    def probe(now: float) -> dict[str, Result]:
        n = (now - deployed) * 10  # 10 requests/s, 30 % errors
        return {"error_rate": err(0.3 * n, n)}

    seen = []
    out = clock.run(
        probe,
        POLICY,
        deployed_at=deployed,
        window=120,
        interval=10,
        on_evaluation=lambda o, ev: seen.append(watchview.progress_line(o, ev)),
    )
    assert out.decision == "rollback" and out.status == "decided"
    assert out.decided_after is not None and out.decided_after < 30
    assert len(out.evaluations) == len(seen) >= 2
    assert "decided: ROLLBACK" in seen[-1] and "watch 0:" in seen[-1]
    data = out.to_json()
    assert data["evaluations"][-1]["decision"] == "rollback"
    assert "ROLLBACK" in watchview.ending(data) and "before the window closed" in watchview.ending(data)
    assert "<table>" in watchview.html_table(data)


def test_run_on_healthy_data_ends_at_the_close_not_before():
    clock = FakeClock(2000.0)
    out = clock.run(
        lambda now: healthy((now - 2000.0) * 10 + 1),
        POLICY,
        deployed_at=2000.0,
        window=40,
        interval=15,
    )
    assert out.decision == "success"
    assert out.decided_after == pytest.approx(40)
    assert [round(e.elapsed) for e in out.evaluations] == [0, 15, 30, 40]


def test_run_interrupted_keeps_what_it_saw():
    clock = FakeClock(0.0)
    calls = []

    def probe(now: float) -> dict[str, Result]:
        calls.append(now)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return healthy(100)

    outcome: list[watch.Outcome] = []
    with pytest.raises(KeyboardInterrupt):
        clock.run(
            probe,
            POLICY,
            deployed_at=0,
            window=60,
            interval=5,
            on_evaluation=lambda o, ev: outcome.append(o),
        )
    assert outcome[-1].status == "interrupted" and len(outcome[-1].evaluations) == 2
    assert "interrupted at 0:05" in watchview.ending(outcome[-1].to_json())


def test_a_watch_started_after_its_window_decides_on_one_evaluation():
    clock = FakeClock(5000.0)
    out = clock.run(lambda now: healthy(), POLICY, deployed_at=0, window=900, interval=10)
    assert out.decision == "success" and len(out.evaluations) == 1 and not clock.slept


def test_bad_policies_are_refused():
    with pytest.raises(ValueError):
        watch.Sprt(0.2, 0.1)
    with pytest.raises(ValueError):
        watch.Sprt(0.1, 0.2, alpha=0)


def test_final_results_agree_with_an_early_rollback_on_few_requests():
    clock = FakeClock(0.0)
    out = clock.run(
        lambda now: {"error_rate": err(9, 12), "logs.clean": passed("clean")},
        POLICY,
        deployed_at=0,
        window=120,
        interval=10,
    )
    assert out.decision == "rollback"
    final = watch.final_results(out, watchview.ending(out.to_json()))
    assert final["error_rate"].outcome == "failed" and final["error_rate"].severity == "critical"
    assert "rollback bound" in final["error_rate"].summary
    assert "decided ROLLBACK 0:00 after the deploy" in final["logs.clean"].evidence["watch"]


def test_watch_traffic_stays_within_the_declared_rate_limit():
    from postdeploy.sources.watchtraffic import over_limit

    assert over_limit(2.0, "") == ""
    assert over_limit(0.5, "60/min") == ""
    assert over_limit(1.0, "60/min") == ""
    said = over_limit(2.0, "60/min")
    assert "2/s is above [api] rate_limit = '60/min' (1/s)" in said and "throttle the watch's own requests" in said
