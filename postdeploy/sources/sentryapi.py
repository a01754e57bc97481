"""The Sentry web API client: issues of a project, filtered to those first seen since a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from postdeploy.config import Sentry
from postdeploy.core.errors import BadResponse, TargetUnreachable
from postdeploy.core.redaction import redact
from postdeploy.sources.httpjson import JsonClient, snippet


@dataclass(frozen=True)
class Issue:
    """One Sentry issue, as much of it as a report needs."""

    id: str
    short_id: str
    title: str
    level: str
    first_seen: datetime
    count: int
    permalink: str

    def __repr__(self) -> str:
        return f"{self.short_id} [{self.level}] {self.title} (first seen {self.first_seen:%H:%M:%S} UTC, {self.count} events)"


def _when(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parse_issues(payload: Any, where: str) -> list[Issue]:
    """Turn the JSON list the issues endpoints answer with into `Issue`s."""
    if not isinstance(payload, list):
        raise BadResponse(f"{where}: expected a list of issues, got {type(payload).__name__}", target=where)
    out = []
    for item in payload:
        try:
            out.append(
                Issue(
                    str(item["id"]),
                    str(item.get("shortId", item["id"])),
                    str(item.get("title", "")),
                    str(item.get("level", "error")),
                    _when(item["firstSeen"]),
                    int(item.get("count", 0) or 0),
                    str(item.get("permalink", "")),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise BadResponse(f"{where}: malformed issue {redact(str(item)[:100])!r}", target=where) from None
    return out


class SentryClient(JsonClient):
    """Reads issues through `GET /api/0/organizations/{org}/issues/` with a bearer token."""

    def __init__(self, cfg: Sentry, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__("Sentry", base_url=cfg.url, token=cfg.token, timeout=cfg.timeout, transport=transport)
        self.cfg = cfg

    def issues_url(self) -> str:
        return f"{self.cfg.url.rstrip('/')}/api/0/organizations/{self.cfg.org}/issues/"

    def get_issues(self, params: dict[str, Any]) -> Any:
        """GET the organization's issue search with `params` (plus project/environment); the JSON answer."""
        params = dict(params)
        if self.cfg.project_id:
            params["project"] = self.cfg.project_id
        if self.cfg.environment:
            params["environment"] = self.cfg.environment
        where = self.issues_url()
        resp = self.get(where, params=params)
        if resp.status_code in (401, 403):
            raise TargetUnreachable(
                f"Sentry {where} refused the token (HTTP {resp.status_code}): check the sentry token's scopes (event:read)",
                target=where,
            )
        if resp.status_code != 200:
            raise BadResponse(f"Sentry {where} answered {resp.status_code}: {snippet(resp.text, 120)!r}", target=where)
        return self.decode(resp, "GET", where)

    def new_issues(self, since: datetime, levels: tuple[str, ...] = ("error", "fatal")) -> list[Issue]:
        """Return unresolved issues of those levels first seen at or after `since`, newest first."""
        minutes = max(1, int((datetime.now(UTC) - since).total_seconds() // 60) + 1)
        payload = self.get_issues({"query": f"is:unresolved firstSeen:-{minutes}m", "statsPeriod": "24h", "limit": 100})
        issues = parse_issues(payload, self.issues_url())
        # The server's search already filters; filter again so a server that ignores
        # part of the query cannot turn an old issue into a new one or hide a level.
        cutoff = since.astimezone(UTC).replace(microsecond=0)
        fresh = [i for i in issues if i.first_seen >= cutoff and i.level in levels]
        return sorted(fresh, key=lambda i: i.first_seen, reverse=True)


def issues_seen_since(
    client: SentryClient, since: datetime, levels: tuple[str, ...] = ("error", "fatal")
) -> list[Issue]:
    """Return unresolved issues of those levels with an event at or after `since` (morning.health).

    Unlike `new_issues`, an old issue that fired again overnight counts: the question is
    "what went wrong overnight", not "what is new".
    """
    minutes = max(1, int((datetime.now(UTC) - since).total_seconds() // 60) + 1)
    payload = client.get_issues(
        {
            "query": f"is:unresolved lastSeen:-{minutes}m",
            "statsPeriod": "24h" if minutes <= 24 * 60 else "14d",
            "limit": 100,
            "sort": "freq",
        }
    )
    return [i for i in parse_issues(payload, client.issues_url()) if i.level in levels]


def search_issues(client: SentryClient, query: str, stats_period: str, limit: int = 100) -> list[dict[str, Any]]:
    """Return the raw issue objects `GET .../issues/?query=...&statsPeriod=...` answers (one page).

    The raw objects keep what `Issue` leaves out: `metadata.type` (the exception type),
    `status`, `count` (a string in Sentry's answer) and `lastSeen`.
    """
    where = client.issues_url()
    payload = client.get_issues({"query": query, "statsPeriod": stats_period, "limit": limit})
    if not isinstance(payload, list) or not all(isinstance(i, dict) for i in payload):
        raise BadResponse(f"{where}: expected a list of issues, got {type(payload).__name__}", target=where)
    return payload
