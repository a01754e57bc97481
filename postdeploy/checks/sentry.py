"""Sentry checks: no new issue of level error or fatal since the deploy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from postdeploy.checks.advice import advice
from postdeploy.config import SentryReview
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, passed, unreachable
from postdeploy.sources.sentryapi import SentryClient, search_issues


def new_issues(client: SentryClient, deployed_at: datetime | None, window: float) -> Result:
    """No unresolved error/fatal issue first seen since the deploy (at most `window` ago)."""
    now = datetime.now(UTC)
    since = max(deployed_at, now - timedelta(seconds=window)) if deployed_at else now - timedelta(seconds=window)
    evidence = {
        "url": client.issues_url(),
        "first seen since": f"{since:%Y-%m-%d %H:%M:%S} UTC",
        "levels": "error, fatal",
    }
    try:
        issues = client.new_issues(since)
    except TargetError as exc:
        return unreachable(f"cannot read Sentry: {exc}", evidence=evidence, advice=advice("sentry.new"))
    if issues:
        for n, issue in enumerate(issues[:10], 1):
            evidence[f"issue {n}"] = repr(issue) + (f" {issue.permalink}" if issue.permalink else "")
        return failed(
            f"{len(issues)} new Sentry issue(s) since the deploy: {issues[0].title}",
            value=len(issues),
            threshold=0,
            evidence=evidence,
            advice=advice("sentry.new"),
        )
    return passed("no new error/fatal issue in Sentry since the deploy", value=0, threshold=0, evidence=evidence)


# -- item 21: new error types since the deploy, and their frequency -------------------------

REVIEW_LEVELS = ("error", "fatal")


def error_type(issue: dict[str, Any]) -> str:
    """Return an issue's error type: `metadata.type` (the exception class), else its title's head."""
    meta = issue.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("type"), str) and meta["type"]:
        return meta["type"]
    title = str(issue.get("title") or "?")
    return title.split(":", 1)[0].strip() or "?"


def _count(issue: dict[str, Any]) -> int:
    try:
        return max(0, int(issue.get("count") or 0))  # Sentry sends the count as a string
    except (TypeError, ValueError):
        return 0


def new_types(
    fresh: list[dict[str, Any]], known: list[dict[str, Any]], now: datetime, min_age: float
) -> list[tuple[str, int, float, float, list[str]]]:
    """Group the fresh issues by error type, drop known types; (type, events, hours, per hour, titles).

    The frequency is events / hours since the type was first seen, with at least `min_age`
    as the denominator: a type first seen a minute ago with 3 events is not "180 per hour".
    """
    known_types = {error_type(i) for i in known}
    groups: dict[str, list[dict[str, Any]]] = {}
    for issue in fresh:
        if str(issue.get("level", "error")) not in REVIEW_LEVELS:
            continue
        kind = error_type(issue)
        if kind not in known_types:
            groups.setdefault(kind, []).append(issue)
    out = []
    for kind, issues in groups.items():
        events = sum(_count(i) for i in issues)
        first = min(_when(i.get("firstSeen")) for i in issues)
        hours = max((now - first).total_seconds(), min_age, 1.0) / 3600.0
        titles = [f"{i.get('shortId', i.get('id'))} {i.get('title', '')}" for i in issues]
        out.append((kind, events, hours, events / hours, titles))
    return sorted(out, key=lambda t: -t[3])


def _when(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def review(client: SentryClient, deployed_at: datetime | None, cfg: SentryReview) -> Result:
    """Item 21: no error type new since the deploy above the frequency bound (events per hour)."""
    now = datetime.now(UTC)
    start = now - timedelta(seconds=cfg.window)
    since = max(deployed_at, start) if deployed_at else start
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    period = f"{max(1, int(-(-(now - since).total_seconds() // 60)))}m"
    queries = {"new": f"firstSeen:>={stamp}", "known": f"firstSeen:<{stamp}"}
    evidence: dict[str, Any] = {
        "url": client.issues_url(),
        "new since": f"{stamp} UTC" + (" (the deploy)" if deployed_at and deployed_at >= start else ""),
        "query new": f"{queries['new']} statsPeriod={period}",
        "query known": f"{queries['known']} statsPeriod={cfg.known_period}",
        "bound": f"{cfg.max_per_hour:g} events/hour per new type (age counted as at least {cfg.min_age:g}s)",
    }
    try:
        fresh = search_issues(client, queries["new"], period)
        known = search_issues(client, queries["known"], cfg.known_period)
    except TargetError as exc:
        return unreachable(f"cannot read Sentry: {exc}", evidence=evidence, advice=advice("sentry.review"))
    # The server filters; filter again so that a server ignoring the query cannot hide a type.
    cutoff = since.replace(microsecond=0)
    fresh = [i for i in fresh if _when(i.get("firstSeen")) >= cutoff]
    found = new_types(fresh, known, now, cfg.min_age)
    evidence["issues first seen since"] = str(len(fresh))
    evidence["known types"] = ", ".join(sorted({error_type(i) for i in known})) or "none"
    for n, (kind, events, hours, rate, titles) in enumerate(found[:10], 1):
        evidence[f"new type {n}"] = f"{kind}: {events} events in {hours:.2f} h = {rate:.1f}/h; " + "; ".join(titles[:3])
    above = [t for t in found if t[3] > cfg.max_per_hour]
    if above:
        kind, events, hours, rate, titles = above[0]
        return failed(
            f"{len(above)} new error type(s) since the deploy above {cfg.max_per_hour:g}/h: {kind} "
            f"{rate:.1f} events/h ({events} events; {titles[0]})",
            value=round(rate, 2),
            threshold=f"<= {cfg.max_per_hour:g}/h",
            evidence=evidence,
            advice=advice("sentry.review"),
        )
    summary = (
        f"{len(found)} new error type(s) since the deploy, all at or below {cfg.max_per_hour:g}/h"
        if found
        else f"no new error type since the deploy ({len(fresh)} issue(s) first seen since, all of known types)"
    )
    return passed(
        summary, value=round(found[0][3], 2) if found else 0, threshold=f"<= {cfg.max_per_hour:g}/h", evidence=evidence
    )
