"""The API client: the JSON client base with pacing, retries, one login per run, and no writes by default."""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from postdeploy.config import Api
from postdeploy.core.errors import BadResponse, TargetError, TargetTimeout, TargetUnreachable
from postdeploy.core.redaction import Secret, redact
from postdeploy.sources import throttle
from postdeploy.sources.httpjson import JsonClient, decode, snippet, verify_with

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
    # The evidence that the login was refused by a rate limiter ("" when it was not).
    throttled: str = ""

    def to_wire(self) -> dict[str, Any]:
        """Return a plain dict for `workerinput` (the token travels to workers, nowhere else)."""
        return {
            "ok": self.ok,
            "status": self.status,
            "elapsed": self.elapsed,
            "detail": self.detail,
            "token": self.token.reveal() if self.token else None,
            "throttled": self.throttled,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Login:
        token = Secret(data["token"], "login") if data.get("token") else None
        return cls(data["ok"], data["status"], data["elapsed"], data["detail"], token, data.get("throttled", ""))


class WritesNotAllowed(Exception):
    """A check tried to change the target without `--allow-writes`."""


class ApiClient(JsonClient):
    """The base JSON client plus pacing, one retry after a rate limit or a reset connection,
    the memo of a hung target, the dependency probe and the run's one login."""

    def __init__(self, cfg: Api, *, allow_writes: bool = False, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(
            "",
            base_url=cfg.base_url,
            headers={"User-Agent": USER_AGENT, **cfg.headers},
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout, read=cfg.read_timeout, write=cfg.read_timeout, pool=cfg.connect_timeout
            ),
            verify=tls_verify(cfg),
            transport=transport,
        )
        self.cfg = cfg
        self.allow_writes = allow_writes
        self.requests_sent = 0
        self.retries: list[str] = []
        self.logins_made = 0
        self._count_lock = threading.Lock()
        self._login: Login | None = None
        # Pacing under [api] rate_limit; under xdist every worker takes its share.
        self.pacer = throttle.Pacer(cfg.rate_limit, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
        # Throttled answers and reset connections seen so far (evidence for the checks).
        self.throttled: list[throttle.Event] = []
        # Set by the fixtures: counts log lines matching a declared throttle signal's pattern.
        self.count_log: throttle.LogCounter | None = None
        # Set by the fixtures when [database] is configured: asks the database directly,
        # returns what it found ("the database does not answer within 5 s: the likely cause").
        self.dependency_probe: Callable[[], str] | None = None
        self._diagnosis: str | None = None
        self._probe_thread: threading.Thread | None = None
        # The first call that hung (read timeout) in this run; later calls do not wait as long.
        self.hung: str = ""
        self._sending = threading.local()

    def where(self, method: str, url: str) -> str:
        """The API's messages name a request by method and URL: "GET https://.../health"."""
        return f"{method} {redact(url)}"

    def throttle_events(self, since: int) -> list[throttle.Event]:
        """The throttle evidence since index `since`, plus the run's login when a limiter refused it."""
        with self._count_lock:
            events = list(self.throttled[since:])
        if self._login is not None and self._login.throttled:
            events.append(throttle.Event(self._login.detail.split(": ", 1)[0], f"login: {self._login.throttled}"))
        return events

    def diagnosis(self) -> str:
        """Ask the dependencies (once per run) why a call hung; "" when nothing is configured to ask."""
        if self.dependency_probe is None:
            return ""
        self._start_probe()
        assert self._probe_thread is not None
        self._probe_thread.join(timeout=30.0)  # the probe bounds itself (connect + statement timeouts)
        return self._diagnosis or "the database could not be asked in time"

    def _start_probe(self) -> None:
        """Start the one dependency probe of the run, in the background (a call is taking long)."""
        with self._count_lock:
            if self._probe_thread is None:
                self._probe_thread = threading.Thread(target=self._run_probe, name="dependency-probe", daemon=True)
                self._probe_thread.start()

    def _run_probe(self) -> None:
        assert self.dependency_probe is not None
        try:
            self._diagnosis = self.dependency_probe()
        except Exception as exc:  # a diagnosis that cannot be made says why, it never raises
            self._diagnosis = f"the database could not be asked ({type(exc).__name__}: {redact(str(exc))[:200]})"

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
        self._classify(method, path, resp)
        return resp

    def _classify(self, method: str, path: str, resp: httpx.Response) -> None:
        """Record a throttled answer (429, 503 + Retry-After, a declared signal) as evidence."""
        sent_at = resp.extensions.get("postdeploy_sent_at") or throttle.now_utc()
        why = throttle.standard(resp) or (
            throttle.declared(resp, self.cfg.throttle, sent_at, self.count_log) if self.cfg.throttle else None
        )
        if why is None:
            return
        url = self.url(path)
        resp.extensions["postdeploy_throttled"] = why
        with self._count_lock:
            self.throttled.append(
                throttle.Event(f"{method} {url} answered {resp.status_code}", f"{method} {path}: {why}")
            )

    def _send(self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]) -> httpx.Response:
        self.pacer.wait()
        with self._count_lock:
            self.requests_sent += 1
        hung_before = self.hung
        extra: dict[str, Any] = {}
        if hung_before and "timeout" not in kwargs:
            extra["timeout"] = httpx.Timeout(
                connect=self.cfg.connect_timeout,
                read=min(self.cfg.read_timeout, self.cfg.hung_read_timeout),
                write=self.cfg.read_timeout,
                pool=self.cfg.connect_timeout,
            )
        sent_at = throttle.now_utc()
        early: threading.Timer | None = None
        if self.dependency_probe is not None and self._probe_thread is None:
            # A call still waiting after hung_read_timeout starts the database probe, so that
            # its answer is in by the time the call times out.
            early = threading.Timer(min(self.cfg.hung_read_timeout, self.cfg.read_timeout / 2), self._start_probe)
            early.daemon = True
            early.start()
        try:
            resp = self.send(method, path, headers=headers, **kwargs, **extra, hung_before=hung_before)
        finally:
            if early is not None:
                early.cancel()
        resp.extensions["postdeploy_sent_at"] = sent_at
        return resp

    def send(self, method: str, path: str, *, hung_before: str = "", **kwargs: Any) -> httpx.Response:
        """The base's send, remembering (per thread) whether an earlier call of the run hung."""
        self._sending.hung_before = hung_before
        return super().send(method, path, **kwargs)

    def timed_out(self, method: str, url: str, exc: httpx.TimeoutException) -> TargetError:
        return self._timeout(method, url, exc, getattr(self._sending, "hung_before", ""))

    def _timeout(self, method: str, url: str, exc: httpx.TimeoutException, hung_before: str) -> TargetTimeout:
        """Say which call hung, how long it was waited on, and (once asked) which dependency hangs."""
        kind = type(exc).__name__.replace("Timeout", " timeout").lower().strip()
        if "connect" in kind:
            return TargetTimeout(
                f"{method} {url}: no answer within {self.cfg.connect_timeout:g}s ({kind}): the service hangs",
                target=url,
            )
        if hung_before:
            limit = min(self.cfg.read_timeout, self.cfg.hung_read_timeout)
            how = (
                f"{kind}; not waited on for the full {self.cfg.read_timeout:g}s: {hung_before} already hung in this run"
            )
        else:
            limit = self.cfg.read_timeout
            how = kind
            self.hung = f"{method} {url}"
        cause = self.diagnosis() or "the service hangs"
        return TargetTimeout(f"{method} {url}: no answer within {limit:g}s ({how}): {cause}", target=url)

    def after_reset(
        self, method: str, path: str, kwargs: dict[str, Any], exc: httpx.TransportError
    ) -> httpx.Response:
        """The server dropped the connection mid-request (a reset kept-alive connection): retry a
        request without side effects once, on a fresh connection, and say so."""
        url = self.url(path)
        what = f"the server reset the connection ({type(exc).__name__}: {redact(str(exc)) or 'no detail'})"
        if method not in READ_METHODS and path != self.cfg.login_path:
            raise TargetUnreachable(
                f"{method} {url}: {what}; not retried: the request may change the target", target=url
            )
        self.pacer.wait()
        with self._count_lock:
            self.requests_sent += 1
        try:
            with httpx.Client(**self._client_args) as fresh:
                resp = fresh.request(method, path, **kwargs)
                resp.read()
        except httpx.TimeoutException as again:
            raise self._timeout(method, url, again, self.hung) from None
        except httpx.TransportError as again:
            raise TargetUnreachable(
                f"{method} {url}: {what}, and again on a fresh connection: {redact(str(again)) or type(again).__name__}",
                target=url,
            ) from None
        with self._count_lock:
            self.retries.append(f"{method} {path}: {what} on a kept-alive connection; retried once on a fresh one")
        return resp

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
            return Login(
                False,
                resp.status_code,
                elapsed,
                f"{where} answered {resp.status_code}: {error_text(resp)}",
                throttled=str(resp.extensions.get("postdeploy_throttled") or ""),
            )
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
    return verify_with(cfg.ca_bundle, "api.ca_bundle") if cfg.verify_tls else False


def json_body(resp: httpx.Response) -> Any:
    """Return the decoded JSON body or raise `BadResponse` saying what came instead."""
    url = str(resp.request.url)
    return decode(resp, f"{resp.request.method} {redact(url)}", url)


def error_text(resp: httpx.Response) -> str:
    """Return the service's error message (its error envelope) or a short snippet of the body."""
    try:
        body = resp.json()
    except ValueError:
        return snippet(resp.text, 120) or "(empty body)"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return redact(f"{err.get('code', '')} {err['message']}".strip())
        if "detail" in body:
            return redact(str(body["detail"])[:200])
    return redact(str(body)[:120])
