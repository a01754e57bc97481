"""The app's endpoints that change data: projects, sign-up (signup + verify-otp) and escrow.

The suite touches only the project ones, and only with ``--allow-writes``; the synthetic
traffic uses sign-up and escrow so the business counters move as real users make them.
Bodies are checked against the contract's request schemas (``sandbox.app.contract``), so a body
the real service rejects with 422 is rejected here too.
"""

from __future__ import annotations

import decimal
import secrets
import uuid
from typing import Any

from sandbox.app import contract
from sandbox.app.appmetrics import ESCROW_TRANSACTIONS, USER_REGISTRATIONS
from sandbox.app.routes import (
    PROJECT_COLUMNS,
    TRANSACTION_COLUMNS,
    USER_COLUMNS,
    Context,
    current_user,
    project_dict,
    token_response,
    transaction_dict,
    user_dict,
)
from sandbox.app.web import ApiError, Request, Response, json_response, validation_error
from sandbox.common import auth


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


def _valid_body(req: Request, schema: str) -> dict[str, Any]:
    """The JSON body, or the 422 the contract's request schema gives it."""
    body = req.json_object()
    problem = contract.body_problem({"$ref": f"#/components/schemas/{schema}"}, body)
    if problem:
        raise ApiError(422, "VALIDATION_ERROR", f"Request validation failed: {problem}")
    return body


def create_project(ctx: Context, req: Request) -> Response:
    """ProjectCreate in, ProjectResponse out (201)."""
    user = current_user(ctx, req)
    body = _valid_body(req, "ProjectCreate")
    budget = _amount(body, "total_amount")
    rows = ctx.pool.fetch(
        f"INSERT INTO projects (id, owner_id, freelancer_id, title, description, status, budget, currency)"
        f" VALUES (%s, %s, %s, %s, %s, 'draft', %s, %s) RETURNING {PROJECT_COLUMNS}",
        (
            uuid.uuid4(),
            user["id"],
            _optional_uuid(body.get("seller_id"), "body.seller_id"),
            body["title"][:200],
            body["description"],
            budget,
            body.get("currency") or "USD",
        ),
        operation="insert",
    )
    return json_response(201, project_dict(rows[0]))


def _optional_uuid(value: Any, location: str) -> uuid.UUID | None:
    return None if value is None else _uuid(value, location)


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


def signup(ctx: Context, req: Request) -> Response:
    """UserCreate in: an unverified account, counted in user_registrations_total; 201
    SignupResponse. The code to verify it goes out by e-mail in the real service."""
    body = _valid_body(req, "UserCreate")
    email = body["email"].lower()
    if len(email) > 254 or "\x00" in email + body["password"] + (body.get("full_name") or ""):
        raise validation_error("body.email", "value is not a valid email address")
    rows = ctx.pool.fetch(
        "INSERT INTO users (id, email, hashed_password, full_name, role, is_verified)"
        " VALUES (%s, %s, %s, %s, %s, false) ON CONFLICT (email) DO NOTHING RETURNING id",
        (
            uuid.uuid4(),
            email,
            auth.hash_password(body["password"][:4096]),
            body.get("full_name"),
            body.get("role") or "client",
        ),
        operation="insert",
    )
    if not rows:
        raise ApiError(400, message="Email already registered")
    USER_REGISTRATIONS.inc()
    return json_response(
        201, {"message": "Signup successful. Check your email for the verification code.", "email": email}
    )


def verify_otp(ctx: Context, req: Request) -> Response:
    """VerifyOtpRequest in: the account is verified and logged in (Token)."""
    body = _valid_body(req, "VerifyOtpRequest")
    email = body["email"].lower()
    if not secrets.compare_digest(body["otp"].encode(), auth.signup_otp(ctx.jwt_secret, email).encode()):
        raise ApiError(400, message="Invalid or expired OTP")
    rows = ctx.pool.fetch(
        f"UPDATE users SET is_verified = true, updated_at = now() WHERE lower(email) = %s RETURNING {USER_COLUMNS}",
        (email,),
        operation="update",
    )
    if not rows:
        raise ApiError(400, message="Invalid or expired OTP")
    return token_response(ctx, user_dict(rows[0]))


def _escrow(ctx: Context, user: dict[str, Any], project_id: uuid.UUID, amount: Any, kind: str) -> Response:
    owner = ctx.pool.fetch("SELECT owner_id, currency FROM projects WHERE id = %s", (project_id,))
    if not owner:
        raise ApiError(404, message="Project not found")
    if str(owner[0][0]) != user["id"]:
        raise ApiError(403, message="Not enough permissions")
    rows = ctx.pool.fetch(
        "INSERT INTO transactions (id, project_id, type, status, amount, currency, reference)"
        f" VALUES (%s, %s, %s, 'completed', %s, %s, %s) RETURNING {', '.join(TRANSACTION_COLUMNS)}",
        (uuid.uuid4(), project_id, kind, amount, owner[0][1], f"AMN-{secrets.token_hex(6).upper()}"),
        operation="insert",
    )
    ESCROW_TRANSACTIONS.labels(kind, "completed").inc()
    return json_response(201, transaction_dict(rows[0], user["id"]))


def escrow_hold(ctx: Context, req: Request) -> Response:
    """EscrowHoldRequest in (project, amount, payment method), TransactionResponse out (201)."""
    user = current_user(ctx, req)
    body = _valid_body(req, "EscrowHoldRequest")
    return _escrow(ctx, user, _uuid(body["project_id"], "body.project_id"), _amount(body, "amount"), "hold")


def escrow_release(ctx: Context, req: Request) -> Response:
    """EscrowReleaseRequest in (a milestone): its amount leaves escrow (201)."""
    user = current_user(ctx, req)
    body = _valid_body(req, "EscrowReleaseRequest")
    milestone_id = _uuid(body["milestone_id"], "body.milestone_id")
    rows = ctx.pool.fetch("SELECT project_id, amount FROM milestones WHERE id = %s", (milestone_id,))
    if not rows:
        raise ApiError(404, message="Milestone not found")
    return _escrow(ctx, user, rows[0][0], rows[0][1], "release")
