"""Alertmanager's API v2: the alerts it holds (`GET /api/v2/alerts`).

Each alert is `{"labels", "annotations", "startsAt", "endsAt", "fingerprint",
"status": {"state": "active"|"suppressed"|"unprocessed", "silencedBy", "inhibitedBy"}, ...}`.
Silenced and inhibited alerts are left out on the server (`silenced=false&inhibited=false`):
someone already decided about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from postdeploy.config import Alertmanager
from postdeploy.core.errors import BadResponse, TargetUnreachable
from postdeploy.core.redaction import redact
from postdeploy.sources.httpjson import JsonClient, message_of


@dataclass(frozen=True)
class Alert:
    """One alert as Alertmanager holds it."""

    name: str
    severity: str
    state: str
    starts_at: datetime | None
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        since = f" since {self.starts_at:%Y-%m-%d %H:%M:%S} UTC" if self.starts_at else ""
        text = f": {self.summary}" if self.summary else ""
        return f"{self.name} [{self.severity or 'no severity'}] {self.state}{since}{text}"


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        # Alertmanager writes nanoseconds; fromisoformat takes at most microseconds.
        head, dot, tail = text.replace("Z", "+00:00").partition(".")
        if dot:
            frac, sign, zone = tail.partition("+") if "+" in tail else tail.partition("-")
            text = f"{head}.{frac[:6]}{sign}{zone}"
        else:
            text = head
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def parse_alerts(payload: Any, where: str) -> list[Alert]:
    """Turn the JSON list of `GET /api/v2/alerts` into `Alert`s."""
    if not isinstance(payload, list):
        raise BadResponse(f"{where}: expected a list of alerts, got {type(payload).__name__}", target=where)
    out = []
    for item in payload:
        labels = item.get("labels") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or "alertname" not in labels:
            raise BadResponse(f"{where}: malformed alert {redact(str(item)[:100])!r}", target=where)
        status = item.get("status") if isinstance(item.get("status"), dict) else {}
        annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}
        out.append(
            Alert(
                str(labels["alertname"]),
                str(labels.get("severity", "")),
                str(status.get("state", "active")),
                _when(item.get("startsAt")),
                str(annotations.get("summary", "")),
                {str(k): str(v) for k, v in labels.items()},
            )
        )
    return out


class AlertmanagerClient(JsonClient):
    """Reads the alerts Alertmanager holds."""

    name = "Alertmanager"

    def __init__(self, cfg: Alertmanager, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(
            "Alertmanager", token=cfg.token, headers={"Accept": "application/json"}, timeout=cfg.timeout, transport=transport
        )
        self.cfg = cfg

    def __enter__(self) -> AlertmanagerClient:
        return self

    def alerts_url(self) -> str:
        return self.cfg.url.rstrip("/") + "/api/v2/alerts"

    def active_alerts(self) -> list[Alert]:
        """Return the active alerts that are neither silenced nor inhibited."""
        url = self.alerts_url()
        params = {"active": "true", "silenced": "false", "inhibited": "false", "unprocessed": "true"}
        answer = self.get_json(url, params=params)
        if answer.status in (401, 403):
            raise TargetUnreachable(f"Alertmanager {url} refused the request (HTTP {answer.status})", target=url)
        if answer.status != 200:
            raise BadResponse(f"Alertmanager {url} answered {answer.status}: {message_of(answer.body)}", target=url)
        return parse_alerts(answer.body, url)


def parse_prometheus_alerts(items: list[Any], where: str) -> list[Alert]:
    """Turn the `alerts` of Prometheus' `GET /api/v1/alerts` into the `firing` `Alert`s (pending left out).

    Each item is `{"labels", "annotations", "state": "pending"|"firing", "activeAt", "value"}`.
    """
    out = []
    for item in items:
        labels = item.get("labels") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or "alertname" not in labels:
            raise BadResponse(f"{where}: malformed alert {redact(str(item)[:100])!r}", target=where)
        if item.get("state") != "firing":
            continue
        annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}
        out.append(
            Alert(
                str(labels["alertname"]),
                str(labels.get("severity", "")),
                "firing",
                _when(item.get("activeAt")),
                str(annotations.get("summary", "")),
                {str(k): str(v) for k, v in labels.items()},
            )
        )
    return out


class PrometheusAlerts:
    """The firing alerts as Prometheus evaluates them (`/api/v1/alerts`): for a setup without Alertmanager.

    Prometheus knows nothing of silences or inhibitions: every firing alert counts.
    """

    name = "Prometheus"

    def __init__(self, prom: Any) -> None:
        self.prom = prom  # a postdeploy.sources.promql.PromClient (its timeout, token and errors)

    def __enter__(self) -> PrometheusAlerts:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def alerts_url(self) -> str:
        return self.prom.cfg.url.rstrip("/") + "/api/v1/alerts"

    def active_alerts(self) -> list[Alert]:
        return parse_prometheus_alerts(self.prom.alerts(), self.alerts_url())
