"""What the security smoke checks look at: HTTPS redirect, security headers, CORS, debug leaks.

The real service, in production, redirects plain HTTP to HTTPS (honouring
``X-Forwarded-Proto`` from its proxy), sends nosniff / DENY / HSTS, and answers CORS for a
fixed list of front-end origins with credentials. Faults break each of these on purpose.
"""

from __future__ import annotations

import json
import traceback
from email.message import Message
from urllib.parse import urlsplit

from sandbox.app.web import Response

HSTS = "max-age=31536000; includeSubDomains"
# The front ends allowed to call the API from a browser, with cookies / Authorization.
CORS_ORIGINS = frozenset({"https://app.amani.com", "https://admin.amani.com"})
CORS_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
CORS_HEADERS = "Accept, Accept-Language, Authorization, Content-Language, Content-Type, X-Request-ID"


def forwarded_https(headers: Message) -> bool:
    """Tell whether a proxy in front terminated TLS (the first hop's X-Forwarded-Proto)."""
    value = headers.get("X-Forwarded-Proto") or ""
    return value.split(",")[0].strip().lower() == "https"


def https_redirect(https_port: int, target: str) -> Response:
    """308 to the same path and query on the HTTPS port (308 keeps the method and body)."""
    split = urlsplit(target)
    location = f"https://127.0.0.1:{https_port}{split.path or '/'}" + (f"?{split.query}" if split.query else "")
    return Response(308, b"", content_type="", headers={"Location": location})


def security_headers(secure: bool, missing: bool) -> dict[str, str]:
    """The headers every response carries; HSTS only when the client came over HTTPS.

    (Browsers ignore HSTS on plain HTTP, and RFC 6797 says not to send it there.)
    """
    if missing:  # the headers_missing fault
        return {}
    headers = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
    if secure:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def cors_headers(origin: str | None, wildcard: bool) -> dict[str, str]:
    """CORS for a simple (non-preflight) request, as Starlette's CORSMiddleware answers."""
    if not origin:
        return {}
    if wildcard:
        # The cors_wildcard fault: any site may read answers made with the user's credentials.
        return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}
    if origin not in CORS_ORIGINS:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def preflight(method: str, headers: Message, wildcard: bool) -> Response | None:
    """Answer a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method), else None."""
    origin = headers.get("Origin")
    if method != "OPTIONS" or not origin or not headers.get("Access-Control-Request-Method"):
        return None
    allowed = {
        "Access-Control-Allow-Methods": CORS_METHODS,
        "Access-Control-Allow-Headers": CORS_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    if not wildcard and origin not in CORS_ORIGINS:
        return Response(400, b"Disallowed CORS origin", "text/plain; charset=utf-8", {**allowed, "Vary": "Origin"})
    return Response(200, b"OK", "text/plain; charset=utf-8", {**allowed, **cors_headers(origin, wildcard)})


# What a service left in debug mode puts into its error bodies (the stacktrace_leak fault).
_LEAKED_SQL = (
    "[SQL: SELECT users.id, users.email, users.hashed_password, users.is_verified FROM users"
    " WHERE lower(users.email) = lower(%(email_1)s)]"
)


def with_debug_trace(response: Response) -> Response:
    """Add a traceback (file paths, a SQL statement, settings) to a JSON error body."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    trace = (
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_stack(limit=6))
        + "sqlalchemy.exc.ProgrammingError: (psycopg.errors.UndefinedColumn)"
        " column users.email_verified does not exist\n" + _LEAKED_SQL + "\n"
    )
    payload["debug"] = {
        "traceback": trace,
        "settings": {"DEBUG": True, "DATABASE_URL": "postgresql+asyncpg://amani:***@127.0.0.1/amani"},
    }
    return Response(response.status, json.dumps(payload).encode(), response.content_type, response.headers)
