"""The one HTTP client under every JSON API postdeploy asks, every failure a one-line `TargetError`.

The API, Prometheus, Sentry, Grafana, Alertmanager, Slack, the Pushgateway and FinCra are
asked through `JsonClient`: a timeout on every call, the CA bundle loaded in one place,
transport failures mapped to `TargetTimeout` / `TargetUnreachable` with one wording
("<where>: no answer within 10s", "<where>: cannot connect: <why>"), secrets masked in
every message, and HTML or garbage where JSON was due reported as such, with a short,
redacted snippet of what came instead. The status code is kept: 401 and 404 mean
something to the caller.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from postdeploy.core.errors import BadResponse, ConfigError, TargetError, TargetTimeout, TargetUnreachable
from postdeploy.core.redaction import Secret, redact

# A connection the server dropped mid-request (a reset kept-alive connection): the API
# client retries a request without side effects once; every other client reports it.
RESET = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class JsonAnswer:
    """The status code and decoded body of one answer."""

    status: int
    body: Any
    url: str


def verify_with(ca_bundle: str, key: str = "ca_bundle") -> ssl.SSLContext | bool:
    """Return what httpx verifies certificates with: the given CA bundle or the system store."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{key} {ca_bundle}: cannot load: {exc}") from None


def snippet(text: str, length: int = 100) -> str:
    """Return the start of a body on one line, secrets masked."""
    return redact(" ".join(text[:length].split()))


def decode(resp: httpx.Response, where: str, target: str = "") -> Any:
    """Return the decoded JSON body or raise `BadResponse` saying what came instead."""
    try:
        return resp.json()
    except ValueError:
        ctype = resp.headers.get("content-type", "") or "no content type"
        raise BadResponse(
            f"{where} answered {resp.status_code} with {ctype}, not JSON: {snippet(resp.text)!r}",
            target=target or where,
        ) from None


def message_of(body: Any) -> str:
    """Return the error message of a JSON error body ({"message": ...} or {"detail": ...})."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return redact(body[key][:200])
    return snippet(str(body))


def seconds_of(timeout: float | httpx.Timeout) -> float:
    """The read timeout in seconds, as an error message states it."""
    if isinstance(timeout, httpx.Timeout):
        return float(timeout.read if timeout.read is not None else timeout.connect or 0.0)
    return float(timeout)


class JsonClient:
    """An httpx client whose failures are `TargetError`s naming the target.

    `what` names the target in messages ("Prometheus", "Sentry"); subclasses may name a
    request differently (`where`). With `secret_url` the URL is a credential (a webhook):
    messages and errors name the target by `what` alone and leave out the transport's text.
    """

    def __init__(
        self,
        what: str,
        *,
        timeout: float | httpx.Timeout,
        base_url: str = "",
        headers: dict[str, str] | None = None,
        token: Secret | None = None,
        auth: tuple[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
        follow_redirects: bool = False,
        transport: httpx.BaseTransport | None = None,
        secret_url: bool = False,
    ) -> None:
        self.what = what
        self.secret_url = secret_url
        self.base_url = base_url
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.seconds = seconds_of(timeout)
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token.reveal()}"
        self._client_args: dict[str, Any] = {
            "base_url": base_url,
            "headers": headers,
            "timeout": self.timeout,
            "auth": auth,
            "verify": verify,
            "follow_redirects": follow_redirects,
            "transport": transport,
        }
        self._client = httpx.Client(**self._client_args)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- naming ----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The full URL of `path` (a full URL stays as it is)."""
        if "://" in path or not self.base_url:
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def where(self, method: str, url: str) -> str:
        """How messages name one request: "<what> <url>", secrets masked."""
        del method
        return self.what if self.secret_url else f"{self.what} {redact(url)}".strip()

    # -- sending ---------------------------------------------------------------------------

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise `TargetTimeout` / `TargetUnreachable` instead of httpx errors."""
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise self.timed_out(method, self.url(path), exc) from None
        except RESET as exc:
            return self.after_reset(method, path, kwargs, exc)
        except httpx.TransportError as exc:
            raise self.cannot_connect(method, self.url(path), exc) from None

    def timed_out(self, method: str, url: str, exc: httpx.TimeoutException) -> TargetError:
        """The error of a request that got no answer in time."""
        del exc
        where = self.where(method, url)
        return TargetTimeout(f"{where}: no answer within {self.seconds:g}s", target=where if self.secret_url else url)

    def cannot_connect(self, method: str, url: str, exc: httpx.TransportError, detail: str = "") -> TargetError:
        """The error of a request that could not be sent (refused, DNS, TLS, reset)."""
        why = detail or (type(exc).__name__ if self.secret_url else (redact(str(exc)) or type(exc).__name__))
        where = self.where(method, url)
        return TargetUnreachable(f"{where}: cannot connect: {why}", target=where if self.secret_url else url)

    def after_reset(self, method: str, path: str, kwargs: dict[str, Any], exc: httpx.TransportError) -> httpx.Response:
        """The server dropped the connection mid-request; by default a failure like any other."""
        del kwargs
        raise self.cannot_connect(method, self.url(path), exc) from None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.send("GET", path, **kwargs)

    def decode(self, resp: httpx.Response, method: str = "GET", path: str = "") -> Any:
        """The JSON body of an answer, or `BadResponse` naming the request."""
        url = self.url(path) if path else str(resp.request.url)
        return decode(resp, self.where(method, url), url)

    def get_json(self, path: str, **kwargs: Any) -> JsonAnswer:
        """GET `path` and decode its JSON body, whatever the status."""
        resp = self.get(path, **kwargs)
        return JsonAnswer(resp.status_code, self.decode(resp, "GET", path), self.url(path))
