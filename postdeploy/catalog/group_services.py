"""Monitoring setup, the load probe, integrations and alerts."""

from __future__ import annotations

from postdeploy.catalog.spec import SERVICES, Spec

CHECKS: tuple[Spec, ...] = (
    Spec(
        "monitoring.ready",
        "P5",
        ("pre_deploy",),
        "major",
        SERVICES,
        passes="every `monitoring.expected_rules` alert rule loaded in Prometheus with health not `err`; every `grafana.dashboards` uid answers `GET /api/dashboards/uid/:uid`; Sentry answers the token; the log source reads. A part without its section is listed as not configured",
        signoff="Monitoring ready",
        advice="guide P5 'Monitoring dashboards set up': load the alert rules (promtool check rules, reload Prometheus), restore the Grafana dashboard, renew the Sentry token; do not deploy blind",
    ),
    Spec(
        "load.probe",
        "P3",
        ("pre_deploy",),
        "major",
        SERVICES,
        passes="a burst of `load_probe.count` GET/HEAD requests (`concurrency` at a time, at most `max_duration`; hard caps 2000 / 16 / 120 s) to `load_probe.endpoints`: p50 < 100 ms, p95 < 500 ms, p99 < 1 s, 0 errors. Write methods are refused",
        signoff="Staging tests passed",
        advice="guide 'Slow Response Times' before the deploy: p50 > 200 ms optimise, p95/p99 > 1 s review slow queries (pg_stat_statements) and CPU/memory; errors: read the failing endpoint's logs",
        needs=("load_probe",),
    ),
    Spec(
        "integrations",
        24,
        ("first_24h",),
        "major",
        SERVICES,
        passes="FinCra `GET /profile/business/me` with the `api-key` answers 200 `success: true` (no money moves); SMTP answers EHLO, STARTTLS and AUTH when configured (no MAIL FROM: no mail); each `integrations.http` URL answers its expected status",
        signoff="Integrations working",
        advice="check the provider's status page and credentials (FinCra api-key, SMTP user/password), network egress and DNS; payments or email down blocks key flows: escalate to the provider",
        needs=("integrations",),
    ),
    Spec(
        "morning.health",
        25,
        ("daily",),
        "major",
        SERVICES,
        passes='no alert with a `severity` in `alertmanager.critical_severities` active (not silenced or inhibited) in Alertmanager (`/api/v2/alerts`); without an `[alertmanager]` url (or with `[alerts] source = "prometheus"`) no critical alert firing in Prometheus\' own `/api/v1/alerts`; the Sentry issues with events overnight are listed',
        signoff="Morning health check",
        advice="open the firing alerts (Alertmanager, or Prometheus' Alerts page without one) and follow their runbooks; read the overnight Sentry errors; silence only what is understood",
        needs=("alerts",),
    ),
    Spec(
        "alerts.tuning",
        29,
        ("weekly",),
        "minor",
        SERVICES,
        passes='the alerts that fired in `alerts_review.window` (range query of `ALERTS{alertstate="firing"}`) are listed; one that started firing more than `flapping_bound` times fails as flapping, and one that fired through the whole window fails as "always firing since ..."',
        signoff="Alert tuning",
        advice="a flapping alert is noise: raise its `for:` duration or threshold, or fix the cause; an alert firing for days is noise too: fix what it reports or its rule; review alerts that fired but needed no action",
        needs=("prometheus",),
    ),
    Spec(
        "notify.team",
        "P4",
        ("pre_deploy",),
        "minor",
        SERVICES,
        passes="the deploy notice reaches the team's Slack channel through the `[slack]` incoming webhook (opt-in)",
        signoff="Team notified",
        advice="tell the team by hand in the deploy channel; check the webhook (revoked? channel archived?) and Slack's status page",
        needs=("slack",),
    ),
)
