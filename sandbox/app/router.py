"""The app's route table (every operation of the reference contract), path matching (with
FastAPI's slash redirects) and the OpenAPI document it serves."""

from __future__ import annotations

import re
from typing import Any

from sandbox.app import contract
from sandbox.app.routes import (
    API,
    REMOVABLE_PATH,
    Context,
    Handler,
    current_user,
    get_project,
    health,
    list_projects,
    list_transactions,
    login,
    me,
    ping,
    readiness,
    root,
    version,
)
from sandbox.app.web import ApiError, Request, Response, json_response
from sandbox.app.writes import create_project, delete_project, escrow_hold, escrow_release, signup, verify_otp


class Redirect(Exception):
    """A 307 to the canonical spelling of a path."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def openapi(ctx: Context, req: Request) -> Response:
    """The reference service's own document, minus what a fault took away."""
    removed = frozenset({REMOVABLE_PATH}) if ctx.faults.active("endpoint_removed") else frozenset()
    return json_response(200, contract.served(removed))


def stub(method: str, template: str, operation: dict[str, Any]) -> Handler:
    """An operation of the contract the sandbox does not implement: it answers what the real
    service answers before doing any work (403/401 from the Bearer check, 422 for parameters or
    a body the schema rejects), then 501 where the real one would have served the request."""
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody")
    body_schema = (body or {}).get("content", {}).get("application/json", {}).get("schema")

    def handler(ctx: Context, req: Request) -> Response:
        if operation.get("security"):
            current_user(ctx, req)
        for parameter in parameters:
            raw = req.params.get(parameter["name"]) if parameter["in"] == "path" else None
            if parameter["in"] == "query":
                raw = req.query_value(parameter["name"])
            problem = contract.parameter_problem(parameter, raw)
            if problem:
                raise ApiError(422, "VALIDATION_ERROR", f"Request validation failed: {problem}")
        if body_schema is not None:
            problem = contract.body_problem(body_schema, req.json_object())
            if problem:
                raise ApiError(422, "VALIDATION_ERROR", f"Request validation failed: {problem}")
        raise ApiError(501, "NOT_IMPLEMENTED", f"{method} {template} is not implemented by the sandbox")

    handler.__name__ = operation.get("operationId", "stub")
    return handler


# What the sandbox really implements; every other operation of the contract gets a stub.
IMPLEMENTED: dict[tuple[str, str], Handler] = {
    ("GET", f"{API}/"): root,
    ("GET", f"{API}/ping"): ping,
    ("GET", f"{API}/version"): version,
    ("GET", f"{API}/health"): health,
    ("GET", f"{API}/readiness"): readiness,
    ("POST", f"{API}/auth/login"): login,
    ("POST", f"{API}/auth/signup"): signup,
    ("POST", f"{API}/auth/verify-otp"): verify_otp,
    ("GET", f"{API}/auth/me"): me,
    ("GET", f"{API}/projects"): list_projects,
    ("POST", f"{API}/projects"): create_project,
    ("GET", f"{API}/projects/{{project_id}}"): get_project,
    ("DELETE", f"{API}/projects/{{project_id}}"): delete_project,
    ("GET", f"{API}/escrow/transactions"): list_transactions,
    ("POST", f"{API}/escrow/hold"): escrow_hold,
    ("POST", f"{API}/escrow/release"): escrow_release,
}
# GET /metrics is answered by the app before routing (both ports, never counted); it is in
# the contract, so it is routed here too for completeness.
ROUTES: list[tuple[str, str, Handler]] = [
    (method, template, IMPLEMENTED.get((method, template)) or stub(method, template, operation))
    for method, template, operation in contract.operations()
] + [("GET", "/openapi.json", openapi)]
_COMPILED = [
    (method, re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"), handler)
    for method, path, handler in ROUTES
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
