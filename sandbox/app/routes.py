"""The app's read endpoints and login: the real service's paths, bodies and status codes."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import platform
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.app.dbpool import ConnectionPool
from sandbox.app.faultfile import FaultFlags
from sandbox.app.web import ApiError, Request, Response, json_response, require_email, require_str, validation_error
from sandbox.common import auth, state

REQUIRED_TABLES = ("users", "wallet_registry", "wallet_balance_snapshot", "wallet_transaction_event")
API = "/api/v1"
# The path the endpoint_removed fault takes away.
REMOVABLE_PATH = f"{API}/escrow/transactions"


@dataclass(frozen=True)
class AppConfig:
    """What this process was deployed as."""

    release: state.Release
    environment: str


@dataclass
class Context:
    """Everything a handler needs."""

    config: AppConfig
    pool: ConnectionPool
    faults: FaultFlags
    jwt_secret: str
    log: logging.Logger


Handler = Callable[[Context, Request], Response]


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def plain(value: Any) -> Any:
    """Turn database values into JSON ones (pydantic v2 serialises Decimal as a string)."""
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def driver_message(exc: BaseException) -> str:
    """The driver's error text on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


# -- public endpoints ---------------------------------------------------------------------
def root(ctx: Context, req: Request) -> Response:
    # The real root reports a hard-coded "1.0.0": only /version carries the release.
    return json_response(
        200,
        {
            "message": f"Hello World! Welcome to {state.APP_NAME}",
            "app": state.APP_NAME,
            "version": "1.0.0",
            "environment": ctx.config.environment,
        },
    )


def ping(ctx: Context, req: Request) -> Response:
    return json_response(200, {"message": "pong"})


def version(ctx: Context, req: Request) -> Response:
    rel = ctx.config.release
    return json_response(
        200,
        {
            "app": state.APP_NAME,
            "environment": ctx.config.environment,
            "version": rel.version,
            "build": {
                "commit_sha": rel.commit_sha,
                "build_time": rel.build_time,
                "build_number": rel.build_number,
                "build_branch": rel.build_branch,
            },
            "runtime": {"python_version": platform.python_version(), "platform": platform.platform()},
        },
    )


def health(ctx: Context, req: Request) -> Response:
    """Always 200; the body says whether the database and migrations are healthy."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        ctx.pool.fetch("SELECT 1")
        checks["database"] = {"status": "healthy", "message": "Database connection successful"}
    except Exception as exc:
        checks["database"] = {"status": "unhealthy", "message": f"Database connection failed: {driver_message(exc)}"}
    try:
        rows = ctx.pool.fetch("SELECT version_num FROM alembic_version")
        if rows:
            checks["migrations"] = {
                "status": "healthy",
                "message": "Migrations are up to date",
                "current_version": rows[0][0],
            }
        else:
            checks["migrations"] = {"status": "warning", "message": "No migrations applied", "current_version": None}
    except Exception as exc:
        checks["migrations"] = {
            "status": "unhealthy",
            "message": f"Migration check failed: {driver_message(exc)}",
            "current_version": None,
        }
    unhealthy = any(check["status"] == "unhealthy" for check in checks.values())
    rel = ctx.config.release
    return json_response(
        200,
        {
            "status": "unhealthy" if unhealthy else "healthy",
            "timestamp": _now_iso(),
            "app": state.APP_NAME,
            "version": rel.version,
            "commit_sha": rel.commit_sha,
            "environment": ctx.config.environment,
            "checks": checks,
        },
    )


def readiness(ctx: Context, req: Request) -> Response:
    """Always 200; ready only when the database answers and every required table exists."""
    checks: dict[str, str] = {}
    try:
        ctx.pool.fetch("SELECT 1")
        checks["database"] = "ready"
    except Exception as exc:
        checks["database"] = f"not ready: {driver_message(exc)}"
    for table in REQUIRED_TABLES:
        key = f"table_{table}"
        if checks["database"] != "ready":
            checks[key] = "not ready: database unavailable"
            continue
        try:
            rows = ctx.pool.fetch("SELECT to_regclass(%s)", (f"public.{table}",))
            checks[key] = "ready" if rows and rows[0][0] else f"not ready: table {table} not found"
        except Exception as exc:
            checks[key] = f"not ready: {driver_message(exc)}"
    ready = all(value == "ready" for value in checks.values())
    return json_response(200, {"ready": ready, "timestamp": _now_iso(), "checks": checks})


USER_COLUMNS = "id, email, full_name, role, is_active, is_verified, created_at"


def user_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """A user as the contract's UserResponse (the columns the sandbox lacks are null/false)."""
    names = [name.strip() for name in USER_COLUMNS.split(",")]
    user = {name: plain(value) for name, value in zip(names, row, strict=True)}
    user.update(phone_number=None, is_superuser=False, avatar_url=None, bio=None, last_login=None)
    return user


def login(ctx: Context, req: Request) -> Response:
    try:
        body = req.json_object()
        email = require_email(body)
        # The contract's UserLogin.password is a plain string (no minLength): "" is a wrong password (401), not a 422.
        password = require_str(body, "password", max_length=4096, min_length=0)
    except ApiError:
        if ctx.faults.active("input_500"):
            # What a handler that trusts its input does with a malformed body.
            raise KeyError("email") from None
        raise
    assert password is not None
    if ctx.faults.active("login_broken"):
        raise ApiError(500, "INTERNAL_ERROR", "Internal server error")
    rows = ctx.pool.fetch(
        f"SELECT {USER_COLUMNS}, hashed_password FROM users WHERE lower(email) = lower(%s)",
        (email,),
    )
    if not rows or not auth.verify_password(password, rows[0][-1]):
        raise ApiError(401, message="Incorrect email or password")
    user = user_dict(rows[0][:-1])
    if not user["is_verified"]:
        raise ApiError(403, message="Email not verified. Please verify your email first.")
    if not user["is_active"]:
        raise ApiError(403, message="Inactive user")
    return token_response(ctx, user)


def token_response(ctx: Context, user: dict[str, Any]) -> Response:
    """The contract's Token: what login and verify-otp answer."""
    token = auth.issue_token(ctx.jwt_secret, user["id"])
    return json_response(
        200, {"access_token": token, "token_type": "bearer", "expires_in": auth.TOKEN_TTL_SECONDS, "user": user}
    )


# -- authenticated endpoints --------------------------------------------------------------
def current_user(ctx: Context, req: Request) -> dict[str, Any]:
    """Resolve the Bearer token: 403 without one (HTTPBearer), 401 when it is bad."""
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(403, message="Not authenticated")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(403, message="Invalid authentication credentials")
    claims = auth.verify_token(ctx.jwt_secret, token.strip())
    if claims is None:
        raise ApiError(401, message="Could not validate credentials")
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError:
        raise ApiError(401, message="Could not validate credentials") from None
    rows = ctx.pool.fetch(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
    if not rows:
        raise ApiError(401, message="Could not validate credentials")
    return user_dict(rows[0])


def _page(req: Request) -> tuple[int, int]:
    values = {}
    for name, default, upper in (("page", 1, 1_000_000), ("page_size", 20, 100)):
        raw = req.query_value(name)
        if raw is None:
            values[name] = default
            continue
        try:
            values[name] = int(raw)
        except ValueError:
            raise validation_error(f"query.{name}", "Input should be a valid integer") from None
        if not 1 <= values[name] <= upper:
            raise validation_error(f"query.{name}", f"Input should be between 1 and {upper}")
    return values["page"], values["page_size"]


def _paginated(items: list[dict[str, Any]], total: int, page: int, size: int) -> Response:
    return json_response(
        200, {"items": items, "total": total, "page": page, "page_size": size, "has_more": page * size < total}
    )


PROJECT_COLUMNS = "id, owner_id, freelancer_id, title, description, status, budget, currency, created_at, updated_at"


def project_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """A project row as the contract's ProjectResponse (owner = creator and buyer, freelancer = seller)."""
    names = [name.strip() for name in PROJECT_COLUMNS.split(",")]
    raw = dict(zip(names, row, strict=True))
    return {
        "id": plain(raw["id"]),
        "title": raw["title"],
        "description": raw["description"] or "",
        "total_amount": plain(raw["budget"]),
        "currency": raw["currency"],
        "completion_criteria": None,
        "due_date": None,
        "status": raw["status"],
        "creator_id": plain(raw["owner_id"]),
        "buyer_id": plain(raw["owner_id"]),
        "seller_id": plain(raw["freelancer_id"]),
        "terms_accepted_at": None,
        "start_date": None,
        "completed_at": None,
        "created_at": plain(raw["created_at"]),
        "updated_at": plain(raw["updated_at"] or raw["created_at"]),
    }


TRANSACTION_COLUMNS = ("id", "project_id", "type", "status", "amount", "currency", "reference", "created_at")
# The sandbox's transaction kinds as the contract's TransactionType.
TRANSACTION_TYPES = {"hold": "escrow_hold", "release": "escrow_release"}


def transaction_dict(row: tuple[Any, ...], user_id: str) -> dict[str, Any]:
    """A transaction row as the contract's TransactionResponse (no fees in the sandbox)."""
    raw = dict(zip(TRANSACTION_COLUMNS, row, strict=True))
    amount = plain(raw["amount"])
    return {
        "id": plain(raw["id"]),
        "user_id": user_id,
        "project_id": plain(raw["project_id"]),
        "transaction_type": TRANSACTION_TYPES.get(raw["type"], raw["type"]),
        "status": raw["status"],
        "amount": amount,
        "currency": raw["currency"],
        "description": None,
        "fee": "0.00",
        "net_amount": amount,
        "payment_gateway": None,
        "gateway_transaction_id": None,
        "gateway_reference": raw["reference"],
        "gateway_response": None,
        "notes": None,
        "created_at": plain(raw["created_at"]),
        "updated_at": plain(raw["created_at"]),
        "processed_at": None,
        "completed_at": plain(raw["created_at"]) if raw["status"] == "completed" else None,
    }


def list_projects(ctx: Context, req: Request) -> Response:
    user = current_user(ctx, req)
    page, size = _page(req)
    if ctx.faults.active("projects_broken"):
        raise ApiError(500, "DATABASE_ERROR", "A database error occurred")
    if ctx.faults.active("slow_query"):
        # An unindexed report query gone wrong: slow enough to top pg_stat_statements.
        ctx.pool.fetch("SELECT count(*) FROM transactions t, pg_sleep(1.2) WHERE t.amount > 0")
    total = ctx.pool.fetch("SELECT count(*) FROM projects WHERE owner_id = %s", (user["id"],))
    rows = ctx.pool.fetch(
        f"SELECT {PROJECT_COLUMNS} FROM projects WHERE owner_id = %s ORDER BY created_at DESC LIMIT %s OFFSET %s",
        (user["id"], size, (page - 1) * size),
    )
    return _paginated([project_dict(row) for row in rows], total[0][0], page, size)


def list_transactions(ctx: Context, req: Request) -> Response:
    user = current_user(ctx, req)
    page, size = _page(req)
    if ctx.faults.active("transactions_broken"):
        raise ApiError(500, "DATABASE_ERROR", "A database error occurred")
    scope = "FROM transactions t JOIN projects p ON p.id = t.project_id WHERE p.owner_id = %s"
    total = ctx.pool.fetch(f"SELECT count(*) {scope}", (user["id"],))
    rows = ctx.pool.fetch(
        f"SELECT {', '.join('t.' + c for c in TRANSACTION_COLUMNS)} {scope}"
        " ORDER BY t.created_at DESC LIMIT %s OFFSET %s",
        (user["id"], size, (page - 1) * size),
    )
    return _paginated([transaction_dict(row, user["id"]) for row in rows], total[0][0], page, size)


def me(ctx: Context, req: Request) -> Response:
    return json_response(200, current_user(ctx, req))


def get_project(ctx: Context, req: Request) -> Response:
    user = current_user(ctx, req)
    try:
        project_id = uuid.UUID(req.params["project_id"])
    except ValueError:
        raise validation_error("path.project_id", "Input should be a valid UUID") from None
    rows = ctx.pool.fetch(f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = %s", (project_id,))
    if not rows:
        raise ApiError(404, message="Project not found")
    project = project_dict(rows[0])
    if user["id"] not in (project["creator_id"], project["seller_id"]):
        raise ApiError(403, message="Not enough permissions")
    return json_response(200, project)
