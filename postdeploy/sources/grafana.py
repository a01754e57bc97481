"""Grafana's HTTP API: dashboards by uid (monitoring.ready) and annotations.

`GET /api/dashboards/uid/:uid` answers `{"dashboard": {...}, "meta": {...}}`, 404 with
`{"message": "Dashboard not found"}`, 401 for a bad token and 403 for a token without
`dashboards:read`. A service-account token goes in `Authorization: Bearer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from postdeploy.config import Grafana
from postdeploy.core.errors import BadResponse, TargetError, TargetUnreachable
from postdeploy.sources.httpjson import JsonClient, message_of


@dataclass(frozen=True)
class Dashboard:
    """What a report needs of one dashboard: uid, title and its URL."""

    uid: str
    title: str
    url: str

    def __repr__(self) -> str:
        return f"{self.title!r} (uid {self.uid}, {self.url})"


class DashboardMissing(TargetError):
    """Grafana answered 404 for a dashboard uid."""


def parse_dashboard(body: Any, uid: str, base_url: str, where: str) -> Dashboard:
    """Turn the body of `GET /api/dashboards/uid/:uid` into a `Dashboard`."""
    dash = body.get("dashboard") if isinstance(body, dict) else None
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(dash, dict) or not isinstance(meta, dict):
        raise BadResponse(f"{where}: 200 without the dashboard and meta objects Grafana sends", target=where)
    got = str(dash.get("uid", ""))
    if got != uid:
        raise BadResponse(f"{where}: asked for uid {uid!r}, got a dashboard with uid {got!r}", target=where)
    return Dashboard(uid, str(dash.get("title", "")), base_url.rstrip("/") + str(meta.get("url", "")))


class GrafanaClient(JsonClient):
    """Reads dashboards (and writes annotations, for the callers that do) with a bearer token."""

    def __init__(self, cfg: Grafana, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(
            "Grafana",
            base_url=cfg.url,
            token=cfg.token,
            headers={"Accept": "application/json"},
            timeout=cfg.timeout,
            transport=transport,
        )
        self.cfg = cfg

    def __enter__(self) -> GrafanaClient:
        return self

    def _url(self, path: str) -> str:
        return self.cfg.url.rstrip("/") + path

    def dashboard(self, uid: str) -> Dashboard:
        """Return one dashboard; `DashboardMissing` on 404, `TargetUnreachable` on a refused token."""
        url = self._url(f"/api/dashboards/uid/{uid}")
        answer = self.get_json(url)
        if answer.status == 404:
            raise DashboardMissing(f"Grafana {url}: 404 {message_of(answer.body)}", target=url)
        if answer.status in (401, 403):
            raise TargetUnreachable(
                f"Grafana {url} refused the token (HTTP {answer.status}: {message_of(answer.body)}): "
                "it needs dashboards:read",
                target=url,
            )
        if answer.status != 200:
            raise BadResponse(f"Grafana {url} answered {answer.status}: {message_of(answer.body)}", target=url)
        return parse_dashboard(answer.body, uid, self.cfg.url, url)

    def annotate(self, text: str, tags: list[str], when_ms: int, dashboard_uid: str = "") -> int:
        """Create an annotation (`POST /api/annotations`) and return its id."""
        url = self._url("/api/annotations")
        payload: dict[str, Any] = {"time": when_ms, "tags": tags, "text": text}
        if dashboard_uid:
            payload["dashboardUID"] = dashboard_uid
        resp = self.send("POST", url, json=payload)
        body = self.decode(resp, "POST", url)
        if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise BadResponse(f"Grafana {url} answered {resp.status_code}: {message_of(body)}", target=url)
        return int(body["id"])
