"""A Grafana stand-in answering the documented HTTP API a monitoring suite uses.

- ``GET /api/health``: ``{"commit", "database": "ok", "version"}``, no auth (as Grafana).
- ``GET /api/dashboards/uid/:uid``: ``{"dashboard": {...}, "meta": {...}}``; 404
  ``{"message": "Dashboard not found"}``.
- ``GET /api/search``: hits with ``id, uid, title, url, type, tags, isStarred, uri``
  (``query``, ``type``, ``tag``, ``dashboardUIDs``, ``limit``).
- ``POST /api/annotations``: ``{"message": "Annotation added", "id": N}``;
  ``GET /api/annotations``: the stored ones filtered by ``from``/``to`` (epoch ms), ``tags``
  (all must match), ``dashboardUID``, ``type``, ``limit`` (default 100), newest first.
Every ``/api`` call but health needs ``Authorization: Bearer <service account token>``:
401 ``{"message": "Unauthorized"}`` without one, ``{"message": "Invalid API key"}`` for a wrong one.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.common.localserver import JsonHandler, LocalServer

DASHBOARD_UID = "amani-backend"
DASHBOARD_TITLE = "Amani Backend Overview"


class GrafanaStore:
    """Dashboards (one, hideable for the dashboard_missing fault) and annotations."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hidden = False
        self.dashboards = {
            DASHBOARD_UID: {
                "id": 1,
                "uid": DASHBOARD_UID,
                "title": DASHBOARD_TITLE,
                "tags": ["amani", "production"],
                "timezone": "browser",
                "schemaVersion": 39,
                "version": 7,
                "panels": [
                    {"id": 1, "title": "Request rate", "type": "timeseries"},
                    {"id": 2, "title": "Error rate", "type": "timeseries"},
                    {"id": 3, "title": "p95 response time", "type": "timeseries"},
                    {"id": 4, "title": "DB connections", "type": "timeseries"},
                ],
            }
        }
        self.annotations: list[dict[str, Any]] = []

    def dashboard(self, uid: str) -> dict[str, Any] | None:
        with self.lock:
            if self.hidden:
                return None
            return self.dashboards.get(uid)

    def visible(self) -> list[dict[str, Any]]:
        with self.lock:
            return [] if self.hidden else list(self.dashboards.values())

    def add_annotation(self, body: dict[str, Any]) -> int:
        now_ms = int(time.time() * 1000)
        with self.lock:
            ident = len(self.annotations) + 1
            dash = self.dashboards.get(str(body.get("dashboardUID", "")))
            self.annotations.append(
                {  # the fields of Grafana's Annotation definition, no others
                    "id": ident,
                    "alertId": 0,
                    "alertName": "",
                    "dashboardId": dash["id"] if dash else 0,
                    "dashboardUID": str(body.get("dashboardUID", "")) if dash else "",
                    "panelId": int(body.get("panelId", 0) or 0),
                    "userId": 1,
                    "newState": "",
                    "prevState": "",
                    "created": now_ms,
                    "updated": now_ms,
                    "time": int(body.get("time") or now_ms),
                    "timeEnd": int(body.get("timeEnd") or body.get("time") or now_ms),
                    "text": str(body["text"]),
                    "tags": [str(t) for t in body.get("tags") or []],
                    "login": "postdeploy-sa",
                    "email": "",
                    "avatarUrl": "/avatar/46d229b033af06a191ff2267bca9ae56",
                    "data": {},
                }
            )
            return ident

    def find_annotations(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        def num(key: str) -> int | None:
            raw = params.get(key, [""])[-1]
            return int(raw) if raw.lstrip("-").isdigit() else None

        start, end, limit = num("from"), num("to"), num("limit") or 100
        tags = params.get("tags", [])
        uid = params.get("dashboardUID", [""])[-1]
        kind = params.get("type", [""])[-1]
        with self.lock:
            found = [
                a
                for a in self.annotations
                if (start is None or a["timeEnd"] >= start)
                and (end is None or a["time"] <= end)
                and all(t in a["tags"] for t in tags)
                and (not uid or a["dashboardUID"] == uid)
                and kind != "alert"
            ]
        return sorted(found, key=lambda a: a["time"], reverse=True)[:limit]


class GrafanaHandler(JsonHandler):
    """Routes the few Grafana endpoints; everything else is Grafana's 404."""

    protocol_version = "HTTP/1.1"
    store: GrafanaStore
    token: str

    def _authorised(self) -> bool:
        return self._bearer_ok(self.token, {"message": "Unauthorized"}, {"message": "Invalid API key"})

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        path, params = split.path.rstrip("/"), parse_qs(split.query)
        if path == "/api/health":
            self._reply(200, {"commit": "5a8ea05f1b", "database": "ok", "version": "10.4.2"})
            return
        if not self._authorised():
            return
        if path.startswith("/api/dashboards/uid/"):
            uid = path.rsplit("/", 1)[1]
            dash = self.store.dashboard(uid)
            if dash is None:
                self._reply(404, {"message": "Dashboard not found"})
                return
            slug = dash["title"].lower().replace(" ", "-")
            meta = {
                "type": "db",
                "canSave": True,
                "canEdit": True,
                "canAdmin": False,
                "canStar": True,
                "slug": slug,
                "url": f"/d/{uid}/{slug}",
                "expires": "0001-01-01T00:00:00Z",
                "created": "2026-09-02T10:14:55Z",
                "updated": "2026-11-20T16:02:31Z",
                "version": dash["version"],
                "isStarred": False,
                "folderId": 0,
                "folderUid": "",
                "folderTitle": "General",
                "provisioned": False,
            }
            self._reply(200, {"dashboard": dash, "meta": meta})
        elif path == "/api/search":
            self._reply(200, self._search(params))
        elif path == "/api/annotations":
            self._reply(200, self.store.find_annotations(params))
        else:
            self._reply(404, {"message": "Not found"})

    def _search(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        query = params.get("query", [""])[-1].lower()
        kind = params.get("type", [""])[-1]
        uids = params.get("dashboardUIDs", []) + params.get("dashboardUID", [])
        tags = params.get("tag", [])
        if kind == "dash-folder":
            return []
        hits = []
        for dash in self.store.visible():
            if query and query not in dash["title"].lower():
                continue
            if uids and dash["uid"] not in uids:
                continue
            if tags and not all(t in dash["tags"] for t in tags):
                continue
            slug = dash["title"].lower().replace(" ", "-")
            hits.append(
                {
                    "id": dash["id"],
                    "uid": dash["uid"],
                    "title": dash["title"],
                    "uri": f"db/{slug}",
                    "url": f"/d/{dash['uid']}/{slug}",
                    "slug": "",
                    "type": "dash-db",
                    "tags": dash["tags"],
                    "isStarred": False,
                    "sortMeta": 0,
                }
            )
        limit = params.get("limit", ["1000"])[-1]
        return hits[: int(limit) if limit.isdigit() else 1000]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self._authorised():
            return
        if urlsplit(self.path).path.rstrip("/") != "/api/annotations":
            self._reply(404, {"message": "Not found"})
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._reply(400, {"message": "bad request data"})
            return
        if not isinstance(body, dict) or not str(body.get("text", "")).strip():
            self._reply(400, {"message": "Failed to save annotation", "error": "text field should not be empty"})
            return
        self._reply(200, {"message": "Annotation added", "id": self.store.add_annotation(body)})


class GrafanaServer(LocalServer):
    """The stand-in's HTTP server, run in a thread of the supervisor."""

    name = "grafana"

    def __init__(self, store: GrafanaStore, token: str) -> None:
        super().__init__()
        self.store = store
        self.token = token

    def start(self, port: int) -> None:
        self.serve(port, type("BoundGrafanaHandler", (GrafanaHandler,), {"store": self.store, "token": self.token}))
