"""The app's endpoints that change data: projects, sign-up and escrow movements.

The suite touches only the project ones, and only with ``--allow-writes``; the synthetic
traffic uses sign-up and escrow so the business counters move as real users make them.
"""

from __future__ import annotations

import decimal
import secrets
import uuid
from typing import Any

from sandbox import auth
from sandbox.appmetrics import ESCROW_TRANSACTIONS, USER_REGISTRATIONS
from sandbox.routes import PROJECT_COLUMNS, Context, current_user, plain, project_dict
from sandbox.web import ApiError, Request, Response, json_response, require_email, require_str, validation_error


def _amount(body: dict[str, Any], name: str) -> decimal.Decimal:
    """Validate a positive money amount (a JSON number or a decimal string)."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise validation_error(f"body.{name}", "Input should be a valid decimal")
    try:
        amount = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise validation_error(f"body.{name}", "Input should be a valid decimal") from None
    if not amount.is_finite() or not 0 < amount < 10**12:
        raise validation_error(f"body.{name}", "Input should be greater than 0")
    return round(amount, 2)


def _uuid(value: Any, location: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise validation_error(location, "Input should be a valid UUID") from None


def create_project(ctx: Context, req: Request) -> Response:
    user = current_user(ctx, req)
    body = req.json_object()
    title = require_str(body, "title", max_length=200)
    description = require_str(body, "description", max_length=5000, min_length=0, required=False)
    currency = require_str(body, "currency", max_length=3, min_length=3, required=False)
    budget = _amount(body, "budget")
    rows = ctx.pool.fetch(
        f"INSERT INTO projects (id, owner_id, title, description, status, budget, currency)"
        f" VALUES (%s, %s, %s, %s, 'draft', %s, %s) RETURNING {PROJECT_COLUMNS}",
        (uuid.uuid4(), user["id"], title, description, budget, (currency or "NGN").upper()),
        operation="insert",
    )
    return json_response(201, project_dict(rows[0]))


def delete_project(ctx: Context, req: Request) -> Response:
    user = current_user(ctx, req)
    project_id = _uuid(req.params["project_id"], "path.project_id")
    rows = ctx.pool.fetch("SELECT owner_id FROM projects WHERE id = %s", (project_id,))
    if not rows:
        raise ApiError(404, message="Project not found")
    if str(rows[0][0]) != user["id"]:
        raise ApiError(403, message="Not enough permissions")
    ctx.pool.fetch("DELETE FROM projects WHERE id = %s", (project_id,), operation="delete")
    return Response(204, b"", content_type="")


def register(ctx: Context, req: Request) -> Response:
    """Sign-up: an unverified account, counted in user_registrations_total."""
    body = req.json_object()
    email = require_email(body)
    password = require_str(body, "password", max_length=4096, min_length=8)
    full_name = require_str(body, "full_name", max_length=255, required=False)
    assert password is not None
    rows = ctx.pool.fetch(
        "INSERT INTO users (id, email, hashed_password, full_name, is_verified) VALUES (%s, %s, %s, %s, false)"
        " ON CONFLICT (email) DO NOTHING RETURNING id, email, full_name, role, is_active, is_verified, created_at",
        (uuid.uuid4(), email.lower(), auth.hash_password(password), full_name),
        operation="insert",
    )
    if not rows:
        raise ApiError(400, message="Email already registered")
    USER_REGISTRATIONS.inc()
    names = ("id", "email", "full_name", "role", "is_active", "is_verified", "created_at")
    return json_response(201, {name: plain(value) for name, value in zip(names, rows[0], strict=True)})


def _escrow(ctx: Context, req: Request, kind: str) -> Response:
    user = current_user(ctx, req)
    body = req.json_object()
    project_id = _uuid(body.get("project_id"), "body.project_id")
    amount = _amount(body, "amount")
    owner = ctx.pool.fetch("SELECT owner_id, currency FROM projects WHERE id = %s", (project_id,))
    if not owner:
        raise ApiError(404, message="Project not found")
    if str(owner[0][0]) != user["id"]:
        raise ApiError(403, message="Not enough permissions")
    columns = ("id", "project_id", "type", "status", "amount", "currency", "reference", "created_at")
    rows = ctx.pool.fetch(
        "INSERT INTO transactions (id, project_id, type, status, amount, currency, reference)"
        f" VALUES (%s, %s, %s, 'completed', %s, %s, %s) RETURNING {', '.join(columns)}",
        (uuid.uuid4(), project_id, kind, amount, owner[0][1], f"AMN-{secrets.token_hex(6).upper()}"),
        operation="insert",
    )
    ESCROW_TRANSACTIONS.labels(kind, "completed").inc()
    return json_response(201, {name: plain(value) for name, value in zip(columns, rows[0], strict=True)})


def escrow_hold(ctx: Context, req: Request) -> Response:
    return _escrow(ctx, req, "hold")


def escrow_release(ctx: Context, req: Request) -> Response:
    return _escrow(ctx, req, "release")
