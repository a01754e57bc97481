"""Alerts: none critical firing in the morning (item 25), and the week's review (item 29)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from postdeploy.catalog import configured
from postdeploy.checks.advice import advice
from postdeploy.config import Alertmanager, AlertsReview, Environment
from postdeploy.core.durations import human
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, passed, unreachable
from postdeploy.sources.alertmanager import AlertmanagerClient, PrometheusAlerts, parse_prometheus_alerts
from postdeploy.sources.promql import MAX_POINTS, PromClient, Series, range_step
from postdeploy.sources.sentryapi import SentryClient, issues_seen_since


def morning(env: Environment, fixture: Callable[[str], Any]) -> Result:
    """Item 25 against the environment: its alert source (Alertmanager, else Prometheus) and Sentry.

    `fixture` returns a client by fixture name ("prom"), asked only when Prometheus is the source."""
    source = env.alert_source()
    if source is None:
        return configured.result(env, "alerts")
    sentry = SentryClient(env.sentry) if env.sentry else None
    try:
        if source == "prometheus":
            reader: AlertmanagerClient | PrometheusAlerts = PrometheusAlerts(fixture("prom"))
        else:
            assert env.alertmanager is not None
            reader = AlertmanagerClient(env.alertmanager)
        with reader as am:
            return morning_health(am, env.alert_settings(), sentry)
    finally:
        if sentry is not None:
            sentry.close()


def morning_health(
    am: AlertmanagerClient | PrometheusAlerts,
    cfg: Alertmanager,
    sentry: SentryClient | None,
    now: datetime | None = None,
) -> Result:
    """No critical alert firing (in Alertmanager, or in Prometheus without one); the overnight Sentry errors listed."""
    now = now or datetime.now(UTC)
    evidence: dict[str, Any] = {
        am.name.lower(): am.alerts_url(),
        "critical severities": ", ".join(cfg.critical_severities),
    }
    problems: list[str] = []
    try:
        alerts = am.active_alerts()
    except TargetError as exc:
        return unreachable(f"cannot read the firing alerts: {exc}", evidence=evidence, advice=advice("morning.health"))
    critical = [a for a in alerts if a.severity in cfg.critical_severities]
    others = [a for a in alerts if a.severity not in cfg.critical_severities]
    evidence["firing alerts"] = f"{len(alerts)} ({len(critical)} critical)"
    for n, alert in enumerate(critical[:10], 1):
        evidence[f"critical {n}"] = repr(alert)
    for n, alert in enumerate(others[:10], 1):
        evidence[f"other {n}"] = repr(alert)
    if critical:
        names = ", ".join(sorted({a.name for a in critical}))
        problems.append(f"{len(critical)} critical alert(s) firing in {am.name}: {names}")
    since = now - timedelta(seconds=cfg.overnight)
    if sentry is None:
        evidence["sentry"] = "not configured: add [sentry] to list the overnight errors"
    else:
        try:
            issues = issues_seen_since(sentry, since)
        except TargetError as exc:
            problems.append(f"cannot list the overnight Sentry errors: {exc}")
        else:
            evidence["overnight sentry errors"] = f"{len(issues)} issue(s) with events since {since:%Y-%m-%d %H:%M} UTC"
            for n, issue in enumerate(issues[:10], 1):
                evidence[f"sentry {n}"] = repr(issue) + (f" {issue.permalink}" if issue.permalink else "")
    if problems:
        return failed(
            "; ".join(problems),
            value=len(critical),
            threshold=0,
            evidence=evidence,
            advice=advice("morning.health"),
        )
    return passed(
        f"no critical alert firing ({len(others)} other alert(s) active)", value=0, threshold=0, evidence=evidence
    )


def firing_starts(points: list[tuple[float, float]], step: float) -> int:
    """Count how often a series starts firing: its first point and every point after a gap."""
    starts = 0
    previous: float | None = None
    for ts, _ in sorted(points):
        if previous is None or ts - previous > step * 1.5:
            starts += 1
        previous = ts
    return starts


def always_firing(series: list[Series], step: float, start: float, end: float) -> dict[str, float]:
    """Return alertname -> first firing point, for alerts that fired through the whole window.

    A series fired through the window when it has a point at the window's start and at its end
    (within 1.5 steps) and no gap in between: one episode that covers it all.
    """
    out: dict[str, float] = {}
    for s in series:
        if not s.points:
            continue
        times = sorted(ts for ts, _ in s.points)
        slack = step * 1.5
        if times[0] <= start + slack and times[-1] >= end - slack and firing_starts(s.points, step) == 1:
            name = s.labels.get("alertname", "?")
            out[name] = min(out.get(name, times[0]), times[0])
    return out


def _active_since(prom: PromClient, names: set[str]) -> dict[str, datetime]:
    """When the alerts still firing now became active (`activeAt` of /api/v1/alerts); {} if unknown."""
    try:
        firing = parse_prometheus_alerts(prom.alerts(), "Prometheus /api/v1/alerts")
    except TargetError:
        return {}
    out: dict[str, datetime] = {}
    for alert in firing:
        if alert.name in names and alert.starts_at is not None:
            out[alert.name] = min(out.get(alert.name, alert.starts_at), alert.starts_at)
    return out


def alert_episodes(series: list[Series], step: float) -> dict[str, int]:
    """Return alertname -> number of times it started firing, summed over its series."""
    out: dict[str, int] = defaultdict(int)
    for s in series:
        out[s.labels.get("alertname", "?")] += firing_starts(s.points, step)
    return dict(out)


def alerts_tuning(prom: PromClient, review: AlertsReview, now: float) -> Result:
    """List the alerts that fired in the window; flag the flapping ones and those that never stopped."""
    step = float(range_step(review.window, points=MAX_POINTS, minimum=review.step))
    query = 'ALERTS{alertstate="firing"}'
    evidence: dict[str, Any] = {
        "query": query,
        "window": human(review.window),
        "step": human(step),
        "flapping bound": f"more than {review.flapping_bound} firing episodes",
        "always firing": "firing at the window's start, at its end and without a gap in between",
    }
    try:
        series = prom.query_range(query, now - review.window, now, step)
    except TargetError as exc:
        return unreachable(f"cannot read the ALERTS history: {exc}", evidence=evidence, advice=advice("alerts.tuning"))
    episodes = alert_episodes(series, step)
    always = always_firing(series, step, now - review.window, now)
    for name, count in sorted(episodes.items(), key=lambda kv: (-kv[1], kv[0])):
        evidence[f"fired {name}"] = f"{count} time(s)" + (" (never stopped)" if name in always else "")
    flapping = {n: c for n, c in episodes.items() if c > review.flapping_bound}
    window = human(review.window)
    problems = []
    if flapping:
        shown = ", ".join(f"{n} ({c} times)" for n, c in sorted(flapping.items(), key=lambda kv: -kv[1]))
        problems.append(f"{len(flapping)} flapping alert(s) in {window}: {shown}")
    if always:
        began = _active_since(prom, set(always))
        shown = ", ".join(
            f"{n} always firing since "
            + (
                f"{began[n]:%Y-%m-%d %H:%M} UTC"
                if n in began and began[n].timestamp() <= t
                else f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M} UTC or earlier"
            )
            for n, t in sorted(always.items())
        )
        problems.append(
            f"{len(always)} alert(s) fired through the whole {window} window: {shown} "
            "(an alert that never stops firing is noise nobody acts on: fix the cause or the rule)"
        )
    if problems:
        return failed(
            "; ".join(problems),
            value=len(flapping) + len(always),
            threshold=f"<= {review.flapping_bound} firing episodes per alert, none firing through the window",
            evidence=evidence,
            advice=advice("alerts.tuning"),
        )
    if not episodes:
        return passed(f"no alert fired in {window}", value=0, threshold=0, evidence=evidence)
    return passed(
        f"{len(episodes)} alert(s) fired in {window}, none flapping: " + ", ".join(sorted(episodes)),
        value=0,
        threshold=f"<= {review.flapping_bound} firing episodes per alert",
        evidence=evidence,
    )
