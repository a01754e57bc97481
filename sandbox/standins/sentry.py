"""A Sentry stand-in answering the documented issue-listing endpoints of the web API.

Implements ``GET /api/0/organizations/{org}/issues/`` and
``GET /api/0/projects/{org}/{project}/issues/`` with Bearer auth, Sentry's issue fields,
its search syntax for the keys a monitoring check uses, and Link-header pagination.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sandbox.common import state
from sandbox.common.localserver import JsonHandler, LocalServer
from sandbox.standins.sentry_query import QueryError, matches, parse_period, parse_query, parse_when

UTC = dt.UTC


def _iso(when: dt.datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Issue:
    """One Sentry issue (group)."""

    id: str
    short_id: str
    title: str
    culprit: str
    level: str
    status: str
    is_unhandled: bool
    count: int
    user_count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    error_type: str
    error_value: str
    environments: list[str] = field(default_factory=lambda: [state.ENVIRONMENT])
    injected: bool = False

    def _stats_24h(self) -> list[list[float]]:
        """Hourly [timestamp, events] for the last 24 h, the events spread over the hours seen."""
        now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        hours = [now - dt.timedelta(hours=23 - i) for i in range(24)]
        live = [
            h for h in hours if self.first_seen - dt.timedelta(hours=1) < h <= self.last_seen + dt.timedelta(hours=1)
        ]
        share = self.count // max(1, len(live))
        return [[h.timestamp(), float(share if h in live else 0)] for h in hours]

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "shareId": None,
            "shortId": self.short_id,
            "title": self.title,
            "culprit": self.culprit,
            "permalink": f"{base_url}/organizations/{state.SENTRY_ORG}/issues/{self.id}/",
            "logger": None,
            "level": self.level,
            "status": self.status,
            "statusDetails": {},
            "substatus": "ongoing" if self.status == "unresolved" else None,
            "isPublic": False,
            "platform": "python",
            "project": {
                "id": state.SENTRY_PROJECT_ID,
                "name": state.SENTRY_PROJECT,
                "slug": state.SENTRY_PROJECT,
                "platform": "python",
            },
            "type": "error",
            "metadata": {
                "type": self.error_type,
                "value": self.error_value,
                "filename": self.culprit.split(" in ")[0].replace(".", "/") + ".py",
                "function": self.culprit.split(" in ")[-1],
            },
            "numComments": 0,
            "assignedTo": None,
            "isBookmarked": False,
            "isSubscribed": False,
            "subscriptionDetails": None,
            "hasSeen": False,
            "annotations": [],
            "issueType": "error",
            "issueCategory": "error",
            "priority": "high",
            "isUnhandled": self.is_unhandled,
            "count": str(self.count),
            # Required by Sentry's published Issue schema: the 24 h timeline (hourly buckets).
            "stats": {"24h": self._stats_24h()},
            "userCount": self.user_count,
            "firstSeen": _iso(self.first_seen),
            "lastSeen": _iso(self.last_seen),
        }


class SentryStore:
    """The issues of the one project, with the fault's extra issue switchable."""

    def __init__(self) -> None:
        now = dt.datetime.now(UTC)
        self._lock = threading.Lock()
        self.issues = [
            Issue(
                "5104",
                "AMANI-BACKEND-1A",
                "ValueError: Invalid wallet address checksum",
                "app.services.wallet in validate_address",
                "error",
                "unresolved",
                False,
                23,
                4,
                now - dt.timedelta(days=9),
                now - dt.timedelta(days=2),
                "ValueError",
                "Invalid wallet address checksum",
            ),
            Issue(
                "5117",
                "AMANI-BACKEND-1M",
                "ConnectionResetError: [Errno 104] Connection reset by peer",
                "app.integrations.fincra in verify_payment",
                "warning",
                "unresolved",
                False,
                61,
                12,
                now - dt.timedelta(days=5),
                now - dt.timedelta(hours=3),
                "ConnectionResetError",
                "[Errno 104] Connection reset by peer",
            ),
            Issue(
                "5089",
                "AMANI-BACKEND-15",
                "KeyError: 'fincra_reference'",
                "app.api.v1.endpoints.webhooks in fincra_webhook",
                "error",
                "resolved",
                True,
                7,
                2,
                now - dt.timedelta(days=20),
                now - dt.timedelta(days=12),
                "KeyError",
                "'fincra_reference'",
            ),
        ]

    def inject_new_issue(self) -> None:
        """The sentry_new_issue fault: an unhandled error issue first seen now."""
        now = dt.datetime.now(UTC)
        with self._lock:
            if any(issue.injected for issue in self.issues):
                return
            self.issues.append(
                Issue(
                    "5230",
                    "AMANI-BACKEND-2Q",
                    "OperationalError: connection pool exhausted",
                    "app.db.session in get_db",
                    "error",
                    "unresolved",
                    True,
                    12,
                    3,
                    # First seen now: the fault stands for an error the new release raises.
                    now,
                    now,
                    "OperationalError",
                    "connection pool exhausted",
                    injected=True,
                )
            )

    def inject_new_type(self) -> None:
        """The sentry_new_type fault: an error type never seen before, first seen now, 180 events."""
        now = dt.datetime.now(UTC)
        with self._lock:
            if any(issue.injected and issue.error_type == "TimeoutError" for issue in self.issues):
                return
            self.issues.append(
                Issue(
                    "5241",
                    "AMANI-BACKEND-2Z",
                    "TimeoutError: FinCra payout status polling timed out after 30s",
                    "app.integrations.fincra in poll_payout_status",
                    "error",
                    "unresolved",
                    True,
                    180,
                    41,
                    now,
                    now,
                    "TimeoutError",
                    "FinCra payout status polling timed out after 30s",
                    injected=True,
                )
            )

    def clear_injected(self) -> None:
        """Heal: drop the fault's issue."""
        with self._lock:
            self.issues = [issue for issue in self.issues if not issue.injected]

    def has_injected(self) -> bool:
        with self._lock:
            return any(issue.injected for issue in self.issues)

    def search(self, params: dict[str, list[str]]) -> list[Issue]:
        """Filter and sort the issues as the issue-listing endpoints do."""
        now = dt.datetime.now(UTC)
        raw_query = params["query"][-1] if "query" in params else "is:unresolved"
        filters = parse_query(raw_query, now)
        environments = [env for env in params.get("environment", []) if env]
        start = end = None
        period = params.get("statsPeriod", [""])[-1]
        if period:
            start = now - parse_period(period)
        if params.get("start") or params.get("end"):
            if not (params.get("start") and params.get("end")):
                raise QueryError("start and end must be given together")
            start = parse_when(params["start"][-1])
            end = parse_when(params["end"][-1])
        with self._lock:
            issues = list(self.issues)
        selected = []
        for issue in issues:
            if environments and not set(environments) & set(issue.environments):
                continue
            if start and issue.last_seen < start:
                continue
            if end and issue.first_seen > end:
                continue
            if matches(issue, filters):
                selected.append(issue)
        sort = params.get("sort", ["date"])[-1]
        keys = {
            "date": lambda i: i.last_seen,
            "new": lambda i: i.first_seen,
            "freq": lambda i: i.count,
            "user": lambda i: i.user_count,
        }
        if sort not in keys:
            raise QueryError(f"Invalid sort: {sort}")
        return sorted(selected, key=keys[sort], reverse=True)  # type: ignore[arg-type]


class SentryHandler(JsonHandler):
    """Routes the few Sentry endpoints; everything else is Sentry's 404."""

    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    store: SentryStore
    token: str
    base_url: str

    def version_string(self) -> str:
        return self.server_version

    def _authorised(self) -> bool:
        return self._bearer_ok(
            self.token, {"detail": "Authentication credentials were not provided."}, {"detail": "Invalid token"}
        )

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        path = split.path if split.path.endswith("/") else split.path + "/"
        params = parse_qs(split.query, keep_blank_values=True)
        if path == "/api/0/":
            self._reply(200, {"version": "0", "auth": None, "user": None})
            return
        if not self._authorised():
            return
        org, project = state.SENTRY_ORG, state.SENTRY_PROJECT
        # The fields Sentry's published Project schema requires.
        project_json = {
            "id": state.SENTRY_PROJECT_ID,
            "slug": project,
            "name": project,
            "platform": "python",
            "status": "active",
            "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
            "color": "#3f70bf",
            "dateCreated": "2025-01-06T09:12:44.318Z",
            "features": ["releases", "servicehooks", "rate-limits"],
            "firstEvent": "2025-01-06T10:02:13.000Z",
            "hasAccess": True,
            "isBookmarked": False,
            "isInternal": False,
            "isMember": True,
            "isPublic": False,
        }
        routes = {
            f"/api/0/organizations/{org}/": {"id": "1", "slug": org, "name": "Amani"},
            f"/api/0/organizations/{org}/projects/": [project_json],
            f"/api/0/projects/{org}/{project}/": project_json,
        }
        if path in routes:
            self._reply(200, routes[path])
        elif path == f"/api/0/organizations/{org}/issues/":
            wanted = [p for p in params.get("project", []) if p not in ("", "-1")]
            if any(not p.isdigit() for p in wanted):
                self._reply(400, {"detail": "Invalid project parameter. Values must be numbers."})
            elif any(p != state.SENTRY_PROJECT_ID for p in wanted):
                self._reply(403, {"detail": "You do not have permission to perform this action."})
            else:
                self._list_issues(params)
        elif path in (
            f"/api/0/projects/{org}/{project}/issues/",
            f"/api/0/projects/{org}/{state.SENTRY_PROJECT_ID}/issues/",
        ):
            self._list_issues(params)
        else:
            self._reply(404, {"detail": "The requested resource does not exist"})

    def _list_issues(self, params: dict[str, list[str]]) -> None:
        try:
            issues = self.store.search(params)
            limit = int(params.get("limit", ["25"])[-1])
            if not 1 <= limit <= 100:
                raise QueryError("limit must be between 1 and 100")
            cursor = params.get("cursor", ["0:0:0"])[-1]
            match = re.fullmatch(r"(\d+):(\d+):([01])", cursor)
            if not match:
                raise QueryError(f"Invalid cursor parameter: {cursor}")
            offset = int(match.group(2))
        except QueryError as exc:
            self._reply(400, {"detail": str(exc)})
            return
        except ValueError:
            self._reply(400, {"detail": "Invalid limit parameter"})
            return
        page = issues[offset : offset + limit]
        self._reply(
            200,
            [issue.to_json(self.base_url) for issue in page],
            {"Link": self._link(params, offset, limit, len(issues))},
        )

    def _link(self, params: dict[str, list[str]], offset: int, limit: int, total: int) -> str:
        base = self.base_url + urlsplit(self.path).path
        kept = [(k, v) for k, values in params.items() if k != "cursor" for v in values]

        def part(rel: str, new_offset: int, is_prev: int, results: bool) -> str:
            cursor = f"0:{new_offset}:{is_prev}"
            url = base + "?" + urlencode(kept + [("cursor", cursor)], safe=":")
            return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

        previous = part("previous", max(offset - limit, 0), 1, offset > 0)
        following = part("next", offset + limit, 0, offset + limit < total)
        return f"{previous}, {following}"


class SentryServer(LocalServer):
    """The stand-in's HTTP server, run in a thread of the supervisor."""

    name = "sentry"

    def __init__(self, store: SentryStore, token: str) -> None:
        super().__init__()
        self.store = store
        self.token = token

    def start(self, port: int) -> None:
        """Bind (raising OSError on a clash) and serve in a daemon thread."""
        attrs = {"store": self.store, "token": self.token, "base_url": f"http://127.0.0.1:{port}"}
        self.serve(port, type("BoundSentryHandler", (SentryHandler,), attrs))
