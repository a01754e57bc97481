"""The watch: a phase's metric, log and Sentry checks judged again and again, decided as early as the evidence allows.

`pytest -m first15 --env E --watch 15m` runs the one-shot checks, then evaluates the
watched checks (the catalog's `watched`) every interval over [deploy, now] until the window
(counted from the deploy) closes or the verdict is decided. Every phase with watched checks
accepts `--watch`: first_hour and first_24h count the window from the deploy too; daily and
weekly, whose windows slide (the last 24 h), count it from the start of the watch. This
module is the library piece, without pytest: the sequential test, the stopping rule
(`evaluate`) and the loop (`run`, with an injected clock); watchview.py renders it.

The stopping rule:
- error rate: two of Wald's sequential probability ratio tests on the binomial rate,
  "at or below the rollback bound" against "at margin x that bound", and the same for
  the major bound; alpha is the chance of crying wolf on a rate at the bound, beta the
  chance of missing one at margin x the bound (both 1 % by default, [watch] in the env file).
  Crossing the rollback test's upper line ends the watch `rollback` at once.
- a finding that can only make the verdict `issues` (the major error-rate test crossed,
  p95 above its bound on at least `min_latency_requests` requests, a new ERROR log line,
  a new Sentry issue) ends the watch `issues` once a rollback is ruled out: a third SPRT,
  "at bound / margin" against "at the bound", has accepted the first (the rate is clearly
  below the rollback bound). Until then the watch goes on: a rollback may still come.
- every other watched check (memory, connections, endpoints, trends...) has no rule of its
  own: its failure counts once `confirm` evaluations in a row have failed (2 by default,
  [watch] confirm): one scrape's spike is not a finding. A confirmed critical failure ends
  the watch `rollback`; a confirmed major one is a finding as above; a minor one is shown,
  never decisive (the verdict does not count it either).
- `success` only when the window has closed and every watched check passes on enough data.
  A healthy deployment is never declared good before its window closes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from postdeploy.core.results import Result

# The watched checks of first15 with a rule of their own (the sequential test, the p95 sample,
# "a new one fails at once"); any other watched check is judged by `confirm` evaluations in a row.
OWN_RULES = ("error_rate", "latency.p95", "logs.clean", "sentry.new")
AT_ONCE = ("logs.clean", "sentry.new")
ABOVE, BELOW, UNDECIDED = "above", "below", "undecided"
PENDING = "watching"
FINAL = ("success", "issues", "rollback")


@dataclass(frozen=True)
class Sprt:
    """Wald's SPRT for a binomial rate: H0 p = p0 (at or below the bound) against H1 p = p1."""

    p0: float
    p1: float
    alpha: float = 0.01
    beta: float = 0.01

    def __post_init__(self) -> None:
        if not 0 < self.p0 < self.p1 < 1:
            raise ValueError(f"need 0 < p0 < p1 < 1, got p0={self.p0} p1={self.p1}")
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5):
            raise ValueError(f"error probabilities must be in (0, 0.5), got alpha={self.alpha} beta={self.beta}")

    @property
    def upper(self) -> float:
        return math.log((1 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1 - self.alpha))

    def llr(self, errors: float, n: float) -> float:
        """The log-likelihood ratio of H1 to H0 after `errors` errors in `n` requests."""
        ok = max(0.0, n - errors)
        return errors * math.log(self.p1 / self.p0) + ok * math.log((1 - self.p1) / (1 - self.p0))

    def decide(self, errors: float, n: float) -> str:
        llr = self.llr(errors, n)
        if llr >= self.upper:
            return ABOVE
        if llr <= self.lower:
            return BELOW
        return UNDECIDED

    def rate_above(self, n: float) -> float | None:
        """The error rate that, at this sample size, crosses the upper line (what "the bound" is now)."""
        if n <= 0:
            return None
        a, b = math.log(self.p1 / self.p0), math.log((1 - self.p1) / (1 - self.p0))
        return min(1.0, max(0.0, (self.upper / n - b) / (a - b)))


@dataclass(frozen=True)
class Policy:
    """The bounds the watch decides against (from [thresholds] and [watch])."""

    major: float = 0.01
    rollback: float = 0.10
    alpha: float = 0.01
    beta: float = 0.01
    margin: float = 2.0
    latency_p95: float = 0.5
    min_requests: int = 50
    min_latency_requests: int = 50
    # Failing evaluations in a row that confirm the failure of a check without a rule of its own.
    confirm: int = 2

    def test(self, bound: float) -> Sprt:
        """Above the bound: "at the bound" against "at margin x the bound"."""
        return Sprt(bound, min(0.999, bound * self.margin), self.alpha, self.beta)

    def below(self, bound: float) -> Sprt:
        """Clearly below the bound: "at bound / margin" against "at the bound" (accepting the first)."""
        return Sprt(bound / self.margin, bound, self.alpha, self.beta)


@dataclass
class Evaluation:
    """One evaluation of the watched checks: what was seen, against what, and what it decided."""

    at: float
    elapsed: float
    requests: float | None = None
    errors: float | None = None
    rate: float | None = None
    rollback_llr: float | None = None
    rollback_test: str = UNDECIDED
    # "below": the rate is clearly under the rollback bound (bound / margin rather than the bound).
    rollback_ruled_out: bool = False
    rollback_rate_bound: float | None = None
    major_test: str = UNDECIDED
    major_rate_bound: float | None = None
    p95: float | None = None
    p95_requests: float | None = None
    checks: dict[str, str] = field(default_factory=dict)
    # Per check: failing evaluations in a row, this one included (0: it did not fail).
    streaks: dict[str, int] = field(default_factory=dict)
    # Seconds the evaluation took (reading the checks' windows); above the interval, the watch lags.
    took: float = 0.0
    ours: int = 0
    decision: str = PENDING
    so_far: str = "no finding"
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("at", "elapsed", "took", "rate", "rollback_llr", "rollback_rate_bound", "major_rate_bound", "p95"):
            if out[key] is not None:
                out[key] = round(out[key], 5 if key.endswith(("rate", "bound")) else 3)
        return out


def _num(data: Mapping[str, Any] | None, key: str) -> float | None:
    if not data or data.get(key) is None:
        return None
    try:
        return float(data[key])
    except (TypeError, ValueError):
        return None


def evaluate(
    results: Mapping[str, Result],
    policy: Policy,
    *,
    at: float,
    elapsed: float,
    window: float,
    ours: int = 0,
    previous: Evaluation | None = None,
) -> Evaluation:
    """Judge one evaluation of the watched checks; pure (results and the previous evaluation in, decision out).

    `results` maps a watched check id to its Result over its window; error_rate's data holds
    `requests` and `errors`, latency.p95's `requests` and `p95` (seconds).
    """
    ev = Evaluation(at=at, elapsed=elapsed, ours=ours)
    ev.checks = {cid: r.outcome for cid, r in results.items()}
    before = previous.streaks if previous is not None else {}
    ev.streaks = {cid: before.get(cid, 0) + 1 if _failed(r) else 0 for cid, r in results.items()}
    findings: list[str] = []
    roll_test = BELOW  # without an error-rate check there is no rollback to wait for
    err = results.get("error_rate")
    if err is not None:
        roll_test, rollback, major = _judge_error_rate(ev, err, policy)
        if rollback:
            ev.decision, ev.reasons = "rollback", [rollback]
            return ev
        findings += [major] if major else []
    findings += _latency_findings(ev, results.get("latency.p95"), policy)
    findings += [f"{cid}: {results[cid].summary}" for cid in AT_ONCE if _failed(results.get(cid))]
    rollback, confirmed, critical_pending = _confirmed(ev, results, policy)
    if rollback:
        ev.decision, ev.reasons = "rollback", [rollback]
        return ev
    findings += confirmed
    if findings and roll_test == BELOW and not critical_pending:
        ev.decision, ev.reasons = "issues", findings
        return ev
    if elapsed >= window:
        ev.decision, ev.reasons = _at_close(results, policy, ev, findings)
        return ev
    ev.so_far = _so_far(ev, results, policy, findings)
    ev.reasons = findings
    return ev


def _confirmed(ev: Evaluation, results: Mapping[str, Result], policy: Policy) -> tuple[str | None, list[str], bool]:
    """The checks without a rule of their own: (a confirmed critical failure or None, the confirmed
    major failures, whether a critical one that is not failing now may still fail)."""
    rollback: str | None = None
    findings: list[str] = []
    pending = False
    for cid, r in results.items():
        if cid in OWN_RULES:
            continue
        confirmed = _failed(r) and ev.streaks.get(cid, 0) >= policy.confirm
        if r.severity == "critical" and not confirmed:
            pending = True
        if not confirmed or r.severity == "minor":
            continue
        line = f"{cid}: {r.summary} (failed {ev.streaks[cid]} evaluations in a row)"
        if r.severity == "critical":
            rollback = rollback or line
        else:
            findings.append(line)
    return rollback, findings, pending


def _so_far(ev: Evaluation, results: Mapping[str, Result], policy: Policy, findings: list[str]) -> str:
    """What the watch would say now: its findings, and the failures still to be confirmed."""
    text = ("issues (rollback not ruled out yet)" if findings else "no finding") + (
        f"; {len(findings)} finding(s)" if findings else ""
    )
    unconfirmed = [
        f"{cid} failing {ev.streaks[cid]}/{policy.confirm}"
        for cid, r in results.items()
        if cid not in OWN_RULES and 0 < ev.streaks.get(cid, 0) < policy.confirm and r.severity != "minor"
    ]
    return text + (f"; to confirm: {', '.join(unconfirmed)}" if unconfirmed else "")


def _judge_error_rate(ev: Evaluation, err: Result, policy: Policy) -> tuple[str, str | None, str | None]:
    """Run the SPRTs on error_rate's counts (recorded in `ev`).

    Returns (BELOW when a rollback is ruled out else UNDECIDED, the rollback reason or None,
    the major finding or None).
    """
    n, e = _num(err.data, "requests"), _num(err.data, "errors")
    if n is None or e is None:
        return UNDECIDED, None, None
    ev.requests, ev.errors = n, e
    ev.rate = e / n if n > 0 else None
    roll, major = policy.test(policy.rollback), policy.test(policy.major)
    ev.rollback_llr = roll.llr(e, n)
    ev.rollback_test, ev.major_test = roll.decide(e, n), major.decide(e, n)
    ev.rollback_rate_bound, ev.major_rate_bound = roll.rate_above(n), major.rate_above(n)
    ev.rollback_ruled_out = policy.below(policy.rollback).decide(e, n) == BELOW
    roll_test = BELOW if ev.rollback_ruled_out else UNDECIDED
    shown = f"{e:.0f} of {n:.0f} requests ({ev.rate:.2%})" if n > 0 else "no request"
    confidence = f"with {1 - policy.alpha:.0%} confidence: {shown}"
    if ev.rollback_test == ABOVE:
        return roll_test, f"error rate above the rollback bound {policy.rollback:.0%} {confidence}", None
    if ev.major_test == ABOVE:
        return roll_test, None, f"error rate above the major bound {policy.major:.1%} {confidence}"
    return roll_test, None, None


def _latency_findings(ev: Evaluation, lat: Result | None, policy: Policy) -> list[str]:
    """latency.p95's p95 (recorded in `ev`) as a finding when judged on enough requests and too high."""
    if lat is None:
        return []
    ev.p95, ev.p95_requests = _num(lat.data, "p95"), _num(lat.data, "requests")
    if ev.p95 is None or (ev.p95_requests or 0) < policy.min_latency_requests or ev.p95 < policy.latency_p95:
        return []
    return [
        f"p95 {ev.p95 * 1000:.0f} ms over {ev.p95_requests:.0f} requests is above {policy.latency_p95 * 1000:.0f} ms"
    ]


def _failed(result: Result | None) -> bool:
    return result is not None and result.outcome == "failed"


def _at_close(
    results: Mapping[str, Result], policy: Policy, ev: Evaluation, findings: list[str]
) -> tuple[str, list[str]]:
    """The window has closed: the checks' own judgement over [deploy, close], with the findings."""
    if not results:
        return "issues", ["no watched check could be evaluated: nothing to judge the window on"]
    reasons = list(findings)
    verdict = "success"
    for cid, r in results.items():
        if r.severity == "minor":
            continue  # shown in the record; the verdict does not count a minor check either
        if r.outcome == "failed" and r.severity == "critical":
            return "rollback", [f"{cid}: {r.summary}", *reasons]
        if r.outcome in ("failed", "inconclusive"):
            verdict = "issues"
            line = f"{cid}: {r.summary}"
            if not any(line == x or x.startswith(f"{cid}:") for x in reasons):
                reasons.append(line)
    if ev.rate is not None and (ev.requests or 0) >= policy.min_requests and ev.rate >= policy.rollback:
        return "rollback", [f"error rate {ev.rate:.2%} over the window is above {policy.rollback:.0%}", *reasons]
    if reasons:
        verdict = "issues"
    if verdict == "success":
        reasons = ["the window closed with every watched check passing on enough data"]
    return verdict, reasons


@dataclass
class Outcome:
    """What the watch saw and decided; `evaluations` grow as it runs (an interrupted watch keeps them).

    A long watch keeps at most KEPT evaluations (`thin`): a 24 h watch at 10 s makes 8,640,
    and the record is rewritten at every one of them. `count` is how many were made.
    """

    window: float
    interval: float
    deployed_at: float
    started_at: float
    evaluations: list[Evaluation] = field(default_factory=list)
    count: int = 0
    results: dict[str, Result] = field(default_factory=dict)
    decision: str = PENDING
    decided_at: float | None = None
    reasons: list[str] = field(default_factory=list)
    status: str = "watching"  # watching, decided, interrupted
    traffic: dict[str, Any] = field(default_factory=dict)
    # What `deployed_at` (the start of the window) is: "the deploy", or "the start of the watch"
    # for the phases whose windows slide (daily, weekly).
    anchor: str = "the deploy"

    @property
    def decided_after(self) -> float | None:
        return None if self.decided_at is None else self.decided_at - self.deployed_at

    def to_json(self) -> dict[str, Any]:
        return {
            "window_s": round(self.window, 3),
            "interval_s": round(self.interval, 3),
            "deployed_at": round(self.deployed_at, 3),
            "anchor": self.anchor,
            "started_at": round(self.started_at, 3),
            "status": self.status,
            "decision": self.decision,
            "decided_at": None if self.decided_at is None else round(self.decided_at, 3),
            "decided_after_s": None if self.decided_after is None else round(self.decided_after, 1),
            "reasons": list(self.reasons),
            "traffic": dict(self.traffic),
            "evaluations_made": self.count,
            "evaluations": [e.to_json() for e in self.evaluations],
        }


def run(
    probe: Callable[[float], Mapping[str, Result]],
    policy: Policy,
    *,
    deployed_at: float,
    window: float,
    interval: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_evaluation: Callable[[Outcome, Evaluation], None] | None = None,
    ours: Callable[[], int] = lambda: 0,
    anchor: str = "the deploy",
) -> Outcome:
    """Evaluate `probe(now)` every `interval` until the window closes or the verdict is decided.

    The last evaluation is made at the close of the window (`deployed_at` + window), not after it.
    A KeyboardInterrupt leaves the outcome "interrupted" with what was seen (re-raised).
    """
    out = Outcome(window=window, interval=interval, deployed_at=deployed_at, started_at=clock(), anchor=anchor)
    try:
        while True:
            now = clock()
            results = probe(now)
            took = clock() - now
            previous = out.evaluations[-1] if out.evaluations else None
            ev = evaluate(
                results, policy, at=now, elapsed=now - deployed_at, window=window, ours=ours(), previous=previous
            )
            ev.took = took
            out.evaluations.append(ev)
            out.count += 1
            thin(out.evaluations)
            out.results = dict(results)
            if on_evaluation is not None:
                on_evaluation(out, ev)
            if ev.decision in FINAL:
                out.decision, out.decided_at, out.reasons, out.status = ev.decision, now, ev.reasons, "decided"
                return out
            close = deployed_at + window
            wake = min(now + interval, close)
            # Sleep in slices so that a Ctrl-C lands promptly; no busy loop.
            while (left := wake - clock()) > 0:
                sleep(min(left, 1.0))
    except KeyboardInterrupt:
        out.status = "interrupted"
        raise


# The evaluations a record keeps at most (about 0.5 MB of record.json for first15's).
KEPT = 720


def _changed(ev: Evaluation, before: Evaluation) -> bool:
    return ev.checks != before.checks or ev.so_far != before.so_far or ev.decision != before.decision


def thin(evaluations: list[Evaluation], kept: int = KEPT) -> None:
    """Over `kept`, drop every second evaluation, the first, the last and every change of an
    outcome or of the decision so far kept: the record of a long watch stays the same size,
    its table coarser in time where nothing happened."""
    if len(evaluations) <= kept:
        return
    last = len(evaluations) - 1
    keep = [ev for i, ev in enumerate(evaluations) if i in (0, last) or i % 2 == 0 or _changed(ev, evaluations[i - 1])]
    if len(keep) > kept:  # changing all the time: time resolution goes first
        keep = [ev for i, ev in enumerate(keep) if i % 2 == 0 or i == len(keep) - 1]
    evaluations[:] = keep


def final_results(out: Outcome, note: str) -> dict[str, Result]:
    """Each watched check's result at the end of the watch, agreeing with the watch's decision;
    `note` (when and why the watch ended) goes into each one's evidence.

    An early rollback may come on fewer requests than a one-shot check judges (say 9 errors
    in 12): the error-rate result then says what the sequential test saw, as a critical
    failure.
    """
    final: dict[str, Result] = {}
    for cid, r in out.results.items():
        evidence = {**r.evidence, "watch": note}
        final[cid] = replace(r, evidence=evidence)
    err = final.get("error_rate")
    last = out.evaluations[-1] if out.evaluations else None
    if err is not None and last is not None and out.status == "decided":
        bound = f"< {last.major_rate_bound:.1%}" if last.major_rate_bound is not None else err.threshold
        value = round(last.rate, 5) if last.rate is not None else err.value
        if out.decision == "rollback" and last.rollback_test == ABOVE and err.severity != "critical":
            final["error_rate"] = replace(
                err, outcome="failed", summary=out.reasons[0], severity="critical", value=value, threshold=bound
            )
        elif out.decision == "issues" and last.major_test == ABOVE and err.outcome != "failed":
            final["error_rate"] = replace(err, outcome="failed", summary=last.reasons[0], value=value)
    return final
