"""One GET of a third-party JSON API, every failure a one-line `TargetError`.

Grafana, Alertmanager and FinCra are asked the same way: a timeout on every call, the
status code kept (401 and 404 mean something to the caller), and HTML or garbage where
JSON was due reported as such, with a short, redacted snippet of what came instead.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from postdeploy.errors import BadResponse, ConfigError, TargetTimeout, TargetUnreachable
from postdeploy.redaction import redact


@dataclass(frozen=True)
class JsonAnswer:
    """The status code and decoded body of one answer."""

    status: int
    body: Any
    url: str


def verify_with(ca_bundle: str) -> ssl.SSLContext | bool:
    """Return what httpx verifies certificates with: the given CA bundle or the system store."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ca_bundle {ca_bundle}: cannot load: {exc}") from None


def snippet(text: str, length: int = 100) -> str:
    """Return the start of a body on one line, secrets masked."""
    return redact(" ".join(text[:length].split()))


def get_json(client: httpx.Client, url: str, what: str, timeout: float, **kwargs: Any) -> JsonAnswer:
    """GET `url` and decode its JSON body; raise `TargetError` subclasses naming `what`."""
    try:
        resp = client.get(url, **kwargs)
    except httpx.TimeoutException:
        raise TargetTimeout(f"{what} {redact(url)}: no answer within {timeout:g}s", target=url) from None
    except httpx.TransportError as exc:
        detail = redact(str(exc)) or type(exc).__name__
        raise TargetUnreachable(f"{what} {redact(url)}: cannot connect: {detail}", target=url) from None
    try:
        body = resp.json()
    except ValueError:
        ctype = resp.headers.get("content-type", "") or "no content type"
        raise BadResponse(
            f"{what} {redact(url)} answered {resp.status_code} with {ctype}, not JSON: {snippet(resp.text)!r}",
            target=url,
        ) from None
    return JsonAnswer(resp.status_code, body, url)


def message_of(body: Any) -> str:
    """Return the error message of a JSON error body ({"message": ...} or {"detail": ...})."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return redact(body[key][:200])
    return snippet(str(body))
