"""The whole environment: one deployment target, as loaded from `environments/NAME.toml`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from postdeploy.config.settings import (
    Alerts,
    AlertsReview,
    Baseline,
    Budget,
    Capacity,
    Changes,
    Charts,
    DbChecks,
    Expected,
    GrafanaAnnotation,
    Job,
    LoadProbe,
    LogChecks,
    Monitoring,
    Security,
    SentryReview,
    Staging,
    Thresholds,
    Wait,
    Watch,
    Windows,
)
from postdeploy.config.targets import (
    Alertmanager,
    Api,
    Backups,
    Database,
    Grafana,
    Integrations,
    Logs,
    Prometheus,
    Pushgateway,
    Restore,
    Runtime,
    Sentry,
    Slack,
)
from postdeploy.core.redaction import redact


@dataclass(frozen=True)
class Environment:
    """One deployment target, as loaded from `environments/NAME.toml`."""

    name: str
    path: str
    api: Api
    description: str = ""
    state_file: str = ""
    prometheus: Prometheus | None = None
    database: Database | None = None
    logs: Logs | None = None
    runtime: Runtime | None = None
    sentry: Sentry | None = None
    security: Security = field(default_factory=Security)
    expected: Expected = field(default_factory=Expected)
    thresholds: Thresholds = field(default_factory=Thresholds)
    windows: Windows = field(default_factory=Windows)
    wait: Wait = field(default_factory=Wait)
    backups: Backups | None = None
    restore: Restore | None = None
    changes: Changes = field(default_factory=Changes)
    staging: Staging = field(default_factory=Staging)
    db_checks: DbChecks = field(default_factory=DbChecks)
    log_checks: LogChecks = field(default_factory=LogChecks)
    sentry_review: SentryReview = field(default_factory=SentryReview)
    capacity: Capacity = field(default_factory=Capacity)
    baseline: Baseline = field(default_factory=Baseline)
    # Item 14: the endpoint labels (as in http_requests_total) that must serve; item 16: jobs.
    endpoints: list[str] = field(
        default_factory=lambda: ["/api/v1/health", "/api/v1/projects", "/api/v1/escrow/transactions"]
    )
    jobs: list[Job] = field(default_factory=list)
    # Production refuses --allow-writes unless its file opts in.
    writes_allowed: bool = True
    monitoring: Monitoring = field(default_factory=Monitoring)
    grafana: Grafana | None = None
    alertmanager: Alertmanager | None = None
    alerts: Alerts = field(default_factory=Alerts)
    alerts_review: AlertsReview = field(default_factory=AlertsReview)
    integrations: Integrations | None = None
    load_probe: LoadProbe | None = None
    budget: Budget = field(default_factory=Budget)
    charts: Charts = field(default_factory=Charts)
    pushgateway: Pushgateway | None = None
    grafana_annotation: GrafanaAnnotation | None = None
    slack: Slack | None = None
    watch: Watch = field(default_factory=Watch)

    def alert_source(self) -> str | None:
        """Where morning.health reads the firing alerts: "alertmanager", "prometheus" or None (neither set up)."""
        has_am = self.alertmanager is not None and bool(self.alertmanager.url)
        if self.alerts.source == "alertmanager":
            return "alertmanager" if has_am else None
        if self.alerts.source == "prometheus":
            return "prometheus" if self.prometheus is not None else None
        if has_am:
            return "alertmanager"
        return "prometheus" if self.prometheus is not None else None

    def alert_settings(self) -> Alertmanager:
        """The critical severities and overnight reach of morning.health, with the alert source's URL."""
        if self.alertmanager is not None:
            if self.alert_source() == "prometheus" and self.prometheus is not None:
                return dataclasses.replace(self.alertmanager, url=self.prometheus.url)
            return self.alertmanager
        url = self.prometheus.url if self.prometheus is not None else ""
        return Alertmanager(
            url=url, critical_severities=list(self.alerts.critical_severities), overnight=self.alerts.overnight
        )

    def targets(self) -> dict[str, str]:
        """Return the targets of this environment, without any secret, for report headers."""
        out = {"api": self.api.base_url}
        if self.prometheus:
            out["prometheus"] = f"{self.prometheus.url} (job {self.prometheus.job})"
        if self.database:
            out["database"] = self.database.dsn
        if self.logs:
            out["logs"] = f"{self.logs.kind}:{self.logs.path or self.logs.container or self.logs.selector}"
        if self.runtime:
            where = self.runtime.pidfile or self.runtime.container or self.runtime.selector
            out["runtime"] = f"{self.runtime.kind}:{where}"
        if self.sentry:
            out["sentry"] = f"{self.sentry.url} {self.sentry.org}/{self.sentry.project}"
        if self.backups:
            out["backups"] = self.backups.dir
        if self.restore:
            out["restore"] = self.restore.dsn
        if self.grafana:
            out["grafana"] = f"{self.grafana.url} dashboards {', '.join(self.grafana.dashboards) or '-'}"
        if self.alertmanager and self.alertmanager.url:
            out["alertmanager"] = self.alertmanager.url
        if self.integrations:
            names = (["fincra"] if self.integrations.fincra else []) + (["smtp"] if self.integrations.smtp else [])
            out["integrations"] = ", ".join(names + sorted(self.integrations.http)) or "-"
        # A URL may carry credentials (https://user:token@host) or a secret read into it.
        return {k: redact(v) for k, v in out.items()}
