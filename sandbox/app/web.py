"""Request, response and error types of the sandbox app, shaped like the real service's."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client: str
    request_id: str
    params: dict[str, str] = field(default_factory=dict)

    def query_value(self, name: str) -> str | None:
        """Return the last value of a query parameter, as FastAPI does for scalars."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json_object(self) -> dict[str, Any]:
        """Parse the body as a JSON object, or raise the 422 FastAPI would."""
        if not self.body:
            raise ApiError(422, "VALIDATION_ERROR", "Request validation failed: body: Field required")
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(422, "VALIDATION_ERROR", "Request validation failed: body: JSON decode error") from None
        if not isinstance(data, dict):
            raise ApiError(
                422,
                "VALIDATION_ERROR",
                "Request validation failed: body: Input should be a valid dictionary",
            )
        return data


@dataclass
class Response:
    """An HTTP response ready to be written."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """Serialise a payload as a JSON response."""
    return Response(status, json.dumps(payload).encode(), headers=dict(headers or {}))


def error_response(status: int, code: str, message: str, path: str) -> Response:
    """The service's error envelope: {"error": {"code", "message", "status", "path"}}."""
    return json_response(status, {"error": {"code": code, "message": message, "status": status, "path": path}})


class ApiError(Exception):
    """An HTTP error a handler returns on purpose (a 'handled' error)."""

    def __init__(self, status: int, code: str | None = None, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code or f"HTTP_{status}"
        self.message = message

    def response(self, path: str) -> Response:
        """Render the error envelope for a request path."""
        return error_response(self.status, self.code, self.message, path)


def validation_error(location: str, problem: str) -> ApiError:
    """A 422 VALIDATION_ERROR naming the offending field."""
    return ApiError(422, "VALIDATION_ERROR", f"Request validation failed: {location}: {problem}")


_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]{2,}$")


def require_str(
    data: dict[str, Any],
    name: str,
    *,
    max_length: int,
    min_length: int = 1,
    required: bool = True,
) -> str | None:
    """Validate one string field of a JSON body, as pydantic would."""
    if name not in data or data[name] is None:
        if required:
            raise validation_error(f"body.{name}", "Field required")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise validation_error(f"body.{name}", "Input should be a valid string")
    try:
        # Lone surrogates survive json.loads but cannot be sent to the database.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise validation_error(f"body.{name}", "Input should be a valid string") from None
    if "\x00" in value:
        raise validation_error(f"body.{name}", "Input should not contain NUL characters")
    if not min_length <= len(value) <= max_length:
        raise validation_error(f"body.{name}", f"String should have {min_length} to {max_length} characters")
    return value


def require_email(data: dict[str, Any], name: str = "email") -> str:
    """Validate an e-mail address field."""
    value = require_str(data, name, max_length=254)
    assert value is not None
    if not _EMAIL.match(value):
        raise validation_error(f"body.{name}", "value is not a valid email address")
    return value
