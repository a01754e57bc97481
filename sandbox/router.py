"""The app's route table, path matching (with FastAPI's slash redirects) and OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from sandbox import state
from sandbox.routes import (
    API,
    REMOVABLE_PATH,
    Context,
    Handler,
    health,
    list_projects,
    list_transactions,
    login,
    ping,
    readiness,
    root,
    version,
)
from sandbox.web import ApiError, Request, Response, json_response
from sandbox.writes import create_project, delete_project, escrow_hold, escrow_release, register


class Redirect(Exception):
    """A 307 to the canonical spelling of a path."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def openapi(ctx: Context, req: Request) -> Response:
    paths: dict[str, dict[str, Any]] = {}
    for method, template, handler, summary in ROUTES:
        if template == REMOVABLE_PATH and ctx.faults.active("endpoint_removed"):
            continue
        operation = {
            "summary": summary,
            "operationId": f"{handler.__name__}_{method.lower()}",
            "responses": {"200": {"description": "Successful Response"}},
        }
        if "{" in template:
            operation["parameters"] = [
                {"name": "project_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
            ]
        paths.setdefault(template, {})[method.lower()] = operation
    return json_response(
        200,
        {
            "openapi": "3.1.0",
            "info": {"title": state.APP_NAME, "version": ctx.config.release.version},
            "paths": paths,
        },
    )


ROUTES: list[tuple[str, str, Handler, str]] = [
    ("GET", f"{API}/", root, "Root"),
    ("GET", f"{API}/ping", ping, "Ping"),
    ("GET", f"{API}/version", version, "Version"),
    ("GET", f"{API}/health", health, "Health Check"),
    ("GET", f"{API}/readiness", readiness, "Readiness Check"),
    ("POST", f"{API}/auth/login", login, "Login"),
    ("POST", f"{API}/auth/register", register, "Register"),
    ("GET", f"{API}/projects", list_projects, "List Projects"),
    ("POST", f"{API}/projects", create_project, "Create Project"),
    ("DELETE", f"{API}/projects/{{project_id}}", delete_project, "Delete Project"),
    ("GET", f"{API}/escrow/transactions", list_transactions, "List Escrow Transactions"),
    ("POST", f"{API}/escrow/hold", escrow_hold, "Hold Funds In Escrow"),
    ("POST", f"{API}/escrow/release", escrow_release, "Release Escrowed Funds"),
    ("GET", "/openapi.json", openapi, "OpenAPI schema"),
]
_COMPILED = [
    (method, re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"), handler)
    for method, path, handler, _ in ROUTES
]


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """Find the handler for a request, or raise 404, 405 or a slash redirect (307)."""
    allowed = False
    for route_method, pattern, handler in _COMPILED:
        match = pattern.match(path)
        if match:
            if route_method == method:
                return handler, match.groupdict()
            allowed = True
    if allowed:
        raise ApiError(405, message="Method Not Allowed")
    # FastAPI's redirect_slashes: the other spelling of a known path answers 307.
    other = path[:-1] if path.endswith("/") else path + "/"
    if any(pattern.match(other) and m == method for m, pattern, _ in _COMPILED):
        raise Redirect(other)
    raise ApiError(404, message="Not Found")
