"""`--watch` in the later phases: checks without a rule of their own are confirmed by failing
evaluations in a row (postdeploy/outputs/watch.py), and their tests are called again as they
are (postdeploy/pytestplugin/rerun.py). Data we construct, a fake clock, no sandbox."""

from __future__ import annotations

import pytest
from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from postdeploy import catalog
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, inconclusive, passed
from postdeploy.outputs import watch, watchview
from postdeploy.pytestplugin import rerun

POLICY = watch.Policy(confirm=2)


def _run(sequence: list[dict[str, Result]], window: float = 60, interval: float = 10) -> watch.Outcome:
    """The watch over `sequence` (one dict of results per evaluation, the last repeated)."""
    clock = FakeClock()
    calls = iter(range(10_000))

    def probe(now: float) -> dict[str, Result]:
        return sequence[min(next(calls), len(sequence) - 1)]

    return clock.run(probe, POLICY, window=window, interval=interval)


def _major(ok: bool, name: str = "resources") -> dict[str, Result]:
    return {name: passed("fine", severity="major") if ok else failed("memory grows 9 MB/h", severity="major")}


def test_one_failing_evaluation_is_not_a_finding():
    out = _run([_major(True), _major(False), _major(True)])
    assert out.decision == "success" and out.decided_at == 60, watchview.ending(out.to_json())
    assert [e.streaks["resources"] for e in out.evaluations[:3]] == [0, 1, 0]
    assert "to confirm: resources failing 1/2" in out.evaluations[1].so_far


def test_two_failing_evaluations_in_a_row_end_the_watch_issues_before_the_close():
    out = _run([_major(True), _major(False), _major(False), _major(True)])
    assert out.decision == "issues" and out.decided_at == 20 and len(out.evaluations) == 3
    assert out.reasons == ["resources: memory grows 9 MB/h (failed 2 evaluations in a row)"]
    assert "before the window closed" in watchview.ending(out.to_json())


def test_a_confirmed_critical_failure_rolls_back_and_a_pending_one_holds_issues_back():
    crit_ok, crit_bad = passed("ok", severity="critical"), failed("pool exhausted", severity="critical")
    seq = [
        {"pool": crit_ok, **_major(False)},
        {"pool": crit_ok, **_major(False)},  # a major finding; a critical check may still fail: go on
        {"pool": crit_bad, **_major(False)},
        {"pool": crit_bad, **_major(False)},
    ]
    out = _run(seq)
    assert [e.decision for e in out.evaluations] == ["watching", "watching", "watching", "rollback"]
    assert out.reasons == ["pool: pool exhausted (failed 2 evaluations in a row)"]


def test_a_minor_failure_is_shown_but_never_decides():
    out = _run([{"analytics": failed("no sign-ups", severity="minor"), **_major(True)}])
    assert out.decision == "success", out.reasons
    assert out.evaluations[-1].checks["analytics"] == "failed"


def test_inconclusive_at_the_close_is_issues_not_success():
    out = _run([{"trend": inconclusive("no history yet", severity="major")}], window=20)
    assert out.decision == "issues" and out.decided_at == 20
    assert out.reasons == ["trend: no history yet"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=12), st.integers(min_value=1, max_value=4))
def test_the_decision_follows_the_streaks(oks: list[bool], confirm: int):
    """issues exactly when `confirm` failures in a row come before the close (or the last one
    fails at the close); never success before the close."""
    policy = watch.Policy(confirm=confirm)
    clock = FakeClock()
    window, interval = 10.0 * (len(oks) - 1), 10.0
    it = iter(oks)
    out = clock.run(lambda now: _major(next(it)), policy, window=window, interval=interval)
    streak, first = 0, None
    for i, ok in enumerate(oks):
        streak = 0 if ok else streak + 1
        if streak >= confirm and first is None:
            first = i
    if first is not None:
        assert out.decision == "issues" and out.decided_at == 10.0 * first
    else:
        expected = "success" if oks[-1] else "issues"
        assert out.decision == expected and out.decided_at == window


def test_progress_and_table_of_a_later_phase_show_the_checks():
    out = _run([_major(True), _major(False), _major(False)])
    line = watchview.progress_line(out, out.evaluations[1])
    assert "passed 0" in line and "failing: resources x1" in line and "requests" not in line
    table = watchview.html_table(out.to_json())
    assert "<th>passed</th>" in table and "<th>error rate</th>" not in table and "resources x2" in table


def test_every_phase_after_the_deploy_has_watched_checks_and_first15_keeps_its_own_rules():
    assert set(catalog.watched("first15")) == set(watch.OWN_RULES)
    assert catalog.watched("pre_deploy") == ()
    for phase in ("first_hour", "first_24h", "daily", "weekly"):
        assert catalog.watched(phase), phase
    # No critical check is watched without a rule of its own: a later-phase watch ends `issues` early.
    assert [s.id for s in catalog.CHECKS if s.watched and s.severity == "critical"] == []


# -- rerun.py: a test function called again with a recorder for `check` ---------------------------


def _fixtures(name: str) -> object:
    if name == "db":
        raise pytest.fail.Exception("database unreachable: connection refused")
    return {"prom": "PROM", "target": "TARGET"}[name]


def test_a_rerun_calls_the_test_with_its_fixtures_and_keeps_the_result():
    seen: list[tuple[object, object]] = []

    def test_resources(prom, target, check):  # the shape of a check's test
        seen.append((prom, target))
        check.judge(failed("memory grows"))

    result = rerun.Rerun("resources", "major", test_resources, {"prom": "PROM", "target": "TARGET"}).evaluate(_fixtures)
    assert seen == [("PROM", "TARGET")]
    assert result.outcome == "failed" and result.severity == "major"


def test_a_rerun_that_cannot_evaluate_is_inconclusive_with_the_reason():
    def needs_db(check):
        check.fixture("db")

    def raises(check):
        raise TargetError("Prometheus at http://127.0.0.1:9 did not answer")

    def judges_nothing(check):
        pass

    said = {
        f.__name__: rerun.Rerun("x", "major", f, {}).evaluate(_fixtures) for f in (needs_db, raises, judges_nothing)
    }
    assert all(r.outcome == "inconclusive" for r in said.values())
    assert "database unreachable" in said["needs_db"].summary
    assert "did not answer" in said["raises"].summary
    assert "judged nothing" in said["judges_nothing"].summary


def test_a_24_hour_watch_keeps_a_record_of_bounded_size():
    """8,641 evaluations at 10 s: the record keeps at most KEPT, with the first, the last and the changes."""
    import json

    flips = {3000, 3001, 5000}  # evaluations at which resources fails (one is confirmed: 3000-3001)
    n = iter(range(100_000))

    def probe(now: float) -> dict[str, Result]:
        i = next(n)
        return {"resources": failed("memory grows") if i in flips else passed("fine"), "trend": passed("as usual")}

    clock = FakeClock()
    policy = watch.Policy(confirm=3)  # so that the watch runs its whole day
    out = clock.run(probe, policy, window=86_400, interval=10)
    assert out.decision == "success" and out.count == 8641
    assert len(out.evaluations) <= watch.KEPT
    kept = {round(e.elapsed) for e in out.evaluations}
    assert {0, 86_400, 30_000, 30_010, 30_020, 50_000, 50_010} <= kept  # the first, the last, each change
    size = len(json.dumps(out.to_json()))
    assert size < 1_000_000, size
    assert out.to_json()["evaluations_made"] == 8641


def test_a_long_watch_evaluates_less_often_unless_told():
    from postdeploy.pytestplugin.watchplugin import default_interval

    assert default_interval(10.0, 15 * 60) == 10.0  # the first 15 minutes: every 10 s
    assert default_interval(10.0, 3600) == 30.0
    assert default_interval(10.0, 86_400) == 720.0  # a day: every 12 minutes
    assert default_interval(10.0, 7 * 86_400) == 5040.0


def test_an_evaluation_slower_than_the_interval_says_so():
    clock = FakeClock()

    def slow(now: float) -> dict[str, Result]:
        clock.sleep(12)  # reading a day of samples
        return _major(True)

    out = clock.run(slow, POLICY, window=30, interval=10)
    assert out.evaluations[0].took == 12 and out.to_json()["evaluations"][0]["took"] == 12
    assert "(this evaluation took 12s, more than the 10s interval)" in watchview.progress_line(out, out.evaluations[0])


def test_a_close_with_nothing_evaluated_is_never_success():
    ev = watch.evaluate({}, POLICY, at=60, elapsed=60, window=60)
    assert ev.decision == "issues" and "no watched check could be evaluated" in ev.reasons[0]
