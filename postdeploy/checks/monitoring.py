"""Monitoring set up before a deploy (P5): alert rules, dashboards, Sentry, logs.

Each part is asked on its own; a part the environment does not configure is listed as
"not configured" (with what to add), never counted as a pass of that part. The check is
skipped only when none is configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from postdeploy.checks.advice import advice
from postdeploy.config import Environment, Sentry
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, not_configured, passed
from postdeploy.sources.grafana import DashboardMissing, GrafanaClient
from postdeploy.sources.httpjson import JsonClient, message_of
from postdeploy.sources.logsource import LogSource
from postdeploy.sources.promql import PromClient


@dataclass(frozen=True)
class RuleReport:
    """What Prometheus has of the expected alert rules."""

    loaded: list[str]
    missing: list[str]
    unhealthy: list[str]
    total_rules: int


def rule_report(groups: Iterable[Any], expected: list[str]) -> RuleReport:
    """Compare the rule groups of `/api/v1/rules` with the expected alert names."""
    health: dict[str, tuple[str, str]] = {}
    total = 0
    for group in groups:
        for rule in (group or {}).get("rules", []) if isinstance(group, dict) else []:
            if not isinstance(rule, dict) or rule.get("type", "alerting") != "alerting":
                continue
            total += 1
            name = str(rule.get("name", ""))
            # The same alert in two groups: keep the unhealthy one, it is the news.
            if name not in health or health[name][0] == "ok":
                health[name] = (str(rule.get("health", "unknown")), str(rule.get("lastError", "")))
    missing = [n for n in expected if n not in health]
    unhealthy = [
        f"{n} (health {health[n][0]}: {health[n][1] or 'no error text'})"
        for n in expected
        if n in health and health[n][0] == "err"
    ]
    return RuleReport([n for n in expected if n in health], missing, unhealthy, total)


def _prometheus_part(prom: PromClient, expected: list[str], evidence: dict[str, Any]) -> list[str]:
    url = f"{prom.cfg.url.rstrip('/')}/api/v1/rules"
    evidence["prometheus rules"] = url
    if not expected:
        return ["[monitoring] expected_rules is empty: name the alert rules that must be loaded"]
    try:
        report = rule_report(prom.rules(), expected)
    except TargetError as exc:
        return [f"Prometheus: {exc}"]
    evidence["alert rules loaded"] = (
        f"{len(report.loaded)} of {len(expected)} expected ({report.total_rules} alerting rules in all)"
    )
    problems = []
    if report.missing:
        problems.append(
            f"{len(report.missing)} of {len(expected)} expected alert rules missing in Prometheus: "
            + ", ".join(report.missing)
        )
    if report.unhealthy:
        problems.append("alert rules failing to evaluate: " + "; ".join(report.unhealthy))
    return problems


def _grafana_part(env: Environment, evidence: dict[str, Any], transport: Any = None) -> list[str]:
    cfg = env.grafana
    assert cfg is not None
    problems = []
    with GrafanaClient(cfg, transport) as client:
        for uid in cfg.dashboards:
            try:
                dash = client.dashboard(uid)
            except DashboardMissing as exc:
                problems.append(f"Grafana dashboard {uid!r} not found ({exc})")
                continue
            except TargetError as exc:
                problems.append(f"Grafana: {exc}")
                continue
            evidence[f"dashboard {uid}"] = repr(dash)
    return problems


def sentry_answers(cfg: Sentry, transport: Any = None) -> str:
    """Ask Sentry for the project with the token; return a line for the report or raise TargetError."""
    url = f"{cfg.url.rstrip('/')}/api/0/projects/{cfg.org}/{cfg.project}/"
    with JsonClient("Sentry", token=cfg.token, timeout=cfg.timeout, transport=transport) as client:
        answer = client.get_json(url)
    if answer.status in (401, 403):
        raise TargetError(
            f"Sentry {url} refused the token (HTTP {answer.status}: {message_of(answer.body)}): "
            "the token is wrong, revoked or lacks project:read",
            target=url,
        )
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise TargetError(f"Sentry {url} answered {answer.status}: {message_of(answer.body)}", target=url)
    return f"GET {url} answered 200 (project {answer.body.get('slug', '?')})"


def monitoring_ready(env: Environment, prom: PromClient | None = None, now: datetime | None = None) -> Result:
    """Prometheus rules loaded and healthy, Grafana dashboards present, Sentry answers, logs readable."""
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    missing_config: list[str] = []
    if env.prometheus is None:
        missing_config.append("[prometheus] url and job")
    else:
        own = prom is None
        client = PromClient(env.prometheus) if own else prom
        assert client is not None
        try:
            problems += _prometheus_part(client, env.monitoring.expected_rules, evidence)
        finally:
            if own:
                client.close()
    if env.grafana is None:
        missing_config.append("[grafana] url, token_env/token_file and dashboards")
    elif not env.grafana.dashboards:
        missing_config.append("[grafana] dashboards (the uids that must exist)")
    else:
        problems += _grafana_part(env, evidence)
    if env.sentry is None:
        missing_config.append("[sentry] org, project and token_env/token_file")
    else:
        try:
            evidence["sentry"] = sentry_answers(env.sentry)
        except TargetError as exc:
            problems.append(f"Sentry: {exc}")
    if env.logs is None:
        missing_config.append("[logs] kind and path/container/selector")
    else:
        source = LogSource(env.logs)
        since = (now or datetime.now(UTC)) - timedelta(minutes=5)
        try:
            lines = source.read(since)
            evidence["logs"] = f"{source.describe()}: readable, {len(lines)} lines in the last 5 minutes"
        except TargetError as exc:
            problems.append(f"log source {source.describe()} unreadable: {exc}")
    if missing_config:
        evidence["not configured"] = "; ".join(missing_config)
    if len(missing_config) == 4:
        return not_configured(f"add {', '.join(missing_config)} to {env.path}")
    if problems:
        return failed(
            "monitoring is not ready: " + "; ".join(problems),
            value=len(problems),
            threshold=0,
            evidence=evidence,
            advice=advice("monitoring.ready"),
        )
    checked = 4 - len(missing_config)
    note = f" ({len(missing_config)} part(s) not configured: {'; '.join(missing_config)})" if missing_config else ""
    return passed(f"monitoring ready: {checked} of 4 parts checked{note}", value=0, threshold=0, evidence=evidence)
