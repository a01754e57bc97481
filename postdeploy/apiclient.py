"""The API client: httpx with timeouts on every call, one login per run, and no writes by default."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from postdeploy.config import Api
from postdeploy.errors import BadResponse, ConfigError, TargetTimeout, TargetUnreachable
from postdeploy.redaction import Secret, redact

USER_AGENT = "postdeploy/0.1 (post-deployment verification)"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Login:
    """The outcome of the run's one login, shareable across xdist workers."""

    ok: bool
    status: int | None
    elapsed: float
    detail: str
    token: Secret | None = None

    def to_wire(self) -> dict[str, Any]:
        """Return a plain dict for `workerinput` (the token travels to workers, nowhere else)."""
        return {
            "ok": self.ok,
            "status": self.status,
            "elapsed": self.elapsed,
            "detail": self.detail,
            "token": self.token.reveal() if self.token else None,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Login:
        token = Secret(data["token"], "login") if data.get("token") else None
        return cls(data["ok"], data["status"], data["elapsed"], data["detail"], token)


class WritesNotAllowed(Exception):
    """A check tried to change the target without `--allow-writes`."""


class ApiClient:
    """A thin httpx wrapper that turns transport failures into `TargetError`s."""

    def __init__(self, cfg: Api, *, allow_writes: bool = False, transport: httpx.BaseTransport | None = None) -> None:
        self.cfg = cfg
        self.allow_writes = allow_writes
        self.requests_sent = 0
        self.retries: list[str] = []
        self.logins_made = 0
        self._count_lock = threading.Lock()
        self._login: Login | None = None
        self._client = httpx.Client(
            base_url=cfg.base_url,
            headers={"User-Agent": USER_AGENT, **cfg.headers},
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout, read=cfg.read_timeout, write=cfg.read_timeout, pool=cfg.connect_timeout
            ),
            verify=tls_verify(cfg),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return str(self._client.base_url.join(path))

    # -- sending ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, token: bool = False, safe: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """Send one request; raise `TargetUnreachable` / `TargetTimeout` instead of httpx errors.

        A method other than GET/HEAD/OPTIONS needs `--allow-writes`, unless it is the login or
        `safe` says the environment file declares the endpoint free of side effects.
        """
        method = method.upper()
        if method not in READ_METHODS and path != self.cfg.login_path and not safe and not self.allow_writes:
            raise WritesNotAllowed(f"{method} {path} changes the target: pass --allow-writes to permit it")
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {self.token().reveal()}"
        resp = self._send(method, path, headers, kwargs)
        wait = rate_limit_wait(resp, self.cfg.max_retry_wait)
        if wait is not None:
            # The target asked us to slow down: honour it once, and say so in the record
            # (a retried check makes the verdict "issues", never a silent pass).
            time.sleep(wait)
            with self._count_lock:
                self.retries.append(f"{method} {path}: HTTP {resp.status_code} (rate limited), retried after {wait:g}s")
            resp = self._send(method, path, headers, kwargs)
        return resp

    def _send(self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]) -> httpx.Response:
        url = self.url(path)
        with self._count_lock:
            self.requests_sent += 1
        try:
            return self._client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            kind = type(exc).__name__.replace("Timeout", " timeout").lower().strip()
            limit = self.cfg.connect_timeout if "connect" in kind else self.cfg.read_timeout
            raise TargetTimeout(
                f"{method} {url}: no answer within {limit:g}s ({kind}): the service hangs", target=url
            ) from None
        except httpx.TransportError as exc:
            raise TargetUnreachable(
                f"{method} {url}: cannot connect: {redact(str(exc)) or type(exc).__name__}", target=url
            ) from None

    def get(self, path: str, *, token: bool = False, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, token=token, **kwargs)

    # -- login -----------------------------------------------------------------------------

    def login(self) -> Login:
        """Log in once with the synthetic user and remember the outcome (success or not)."""
        if self._login is None:
            self._login = self._do_login()
        return self._login

    def adopt_login(self, login: Login) -> None:
        """Use a login made elsewhere (the xdist controller) instead of logging in again."""
        self._login = login

    def token(self) -> Secret:
        login = self.login()
        if not login.ok or login.token is None:
            raise TargetUnreachable(f"no access token: the login failed ({login.detail})", target=self.cfg.login_path)
        return login.token

    def _do_login(self) -> Login:
        user = self.cfg.user
        if user is None:
            return Login(False, None, 0.0, "no test user configured: set [api.user] email and password_env")
        started = time.monotonic()
        self.logins_made += 1
        try:
            resp = self.request(
                "POST", self.cfg.login_path, json={"email": user.email, "password": user.password.reveal()}
            )
        except (TargetTimeout, TargetUnreachable) as exc:
            return Login(False, None, time.monotonic() - started, str(exc))
        elapsed = time.monotonic() - started
        where = f"POST {self.url(self.cfg.login_path)}"
        if resp.status_code != 200:
            return Login(False, resp.status_code, elapsed, f"{where} answered {resp.status_code}: {error_text(resp)}")
        try:
            body = json_body(resp)
        except BadResponse as exc:
            return Login(False, resp.status_code, elapsed, str(exc))
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            return Login(False, 200, elapsed, f"{where} answered 200 without an access_token")
        if str(body.get("token_type", "")).lower() != "bearer":
            return Login(False, 200, elapsed, f"{where}: token_type is {body.get('token_type')!r}, not 'bearer'")
        return Login(True, 200, elapsed, f"{where} answered 200 with a bearer token", Secret(token, "login"))


def rate_limit_wait(resp: httpx.Response, longest: float) -> float | None:
    """Return how long to wait before one retry when the answer says "rate limited", else None.

    A 429 always qualifies; a 503 only when it carries Retry-After (a limiter's burst of
    5xx, not an outage). Retry-After in seconds is honoured up to `longest`; an HTTP date
    or a missing header waits 1 s.
    """
    if resp.status_code != 429 and not (resp.status_code == 503 and "retry-after" in resp.headers):
        return None
    raw = resp.headers.get("retry-after", "").strip()
    try:
        wait = float(raw) if raw else 1.0
    except ValueError:
        wait = 1.0
    return max(0.0, min(wait, longest))


def tls_verify(cfg: Api) -> ssl.SSLContext | bool:
    """Return what httpx should verify certificates with: a CA bundle, the system store, or nothing."""
    if not cfg.verify_tls:
        return False
    if cfg.ca_bundle:
        try:
            return ssl.create_default_context(cafile=cfg.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"api.ca_bundle {cfg.ca_bundle}: cannot load: {exc}") from None
    return True


def json_body(resp: httpx.Response) -> Any:
    """Return the decoded JSON body or raise `BadResponse` saying what came instead."""
    where = f"{resp.request.method} {resp.request.url}"
    ctype = resp.headers.get("content-type", "")
    try:
        return resp.json()
    except ValueError:
        snippet = redact(resp.text[:120].replace("\n", " "))
        raise BadResponse(
            f"{where} answered {resp.status_code} with {ctype or 'no content type'}, not JSON: {snippet!r}",
            target=str(resp.request.url),
        ) from None


def error_text(resp: httpx.Response) -> str:
    """Return the service's error message (its error envelope) or a short snippet of the body."""
    try:
        body = resp.json()
    except ValueError:
        return redact(resp.text[:120].replace("\n", " ")) or "(empty body)"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return redact(f"{err.get('code', '')} {err['message']}".strip())
        if "detail" in body:
            return redact(str(body["detail"])[:200])
    return redact(str(body)[:120])
