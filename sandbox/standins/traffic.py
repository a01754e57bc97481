"""Synthetic traffic against the sandbox app: users' requests, about 9.5 a second, and probes.

The users pick weighted requests (`REQUESTS`). The probes (`PROBES`) come on a schedule of
their own, as a load balancer, the orchestrator and an uptime monitor send them: about 0.6
requests/s, some 6 % of all, a real service's share. (Probes picked as nearly half of the
requests diluted the injected 5xx faults, which spare them, far below their names.)

Each deploy (a new app process) is announced with ``new_deploy()``: the threads log in
again and send a quick burst, so that Prometheus soon holds enough requests from the new
process for rate checks over the window since the deploy.
"""

from __future__ import annotations

import logging
import random
import secrets
import ssl
import threading
import time
from collections.abc import Callable

import httpx

from sandbox.common import state

log = logging.getLogger("sandbox.traffic")

# The users' requests: (path, needs a token, weight); the 404 is a page the service never had.
REQUESTS: list[tuple[str, bool, float]] = [
    ("/api/v1/version", False, 1.0),
    ("/api/v1/", False, 1.0),
    ("/api/v1/projects", True, 2.0),
    ("/api/v1/escrow/transactions", True, 2.0),
    ("/api/v1/notifications", False, 0.25),
    # Business actions: about 0.19 sign-ups and 0.5 escrow moves a second at USER_RATE, busier
    # than production (tens an hour) so that a 40 s window can tell "none" from chance (item 18);
    # sign-ups stay under 2 % of requests, so that their slow password hashing stays out of p95.
    # A sign-up is the real two steps: POST /auth/signup, then /auth/verify-otp with the code.
    ("signup", False, 0.135),
    ("escrow", True, 0.375),
]
USER_RATE = 9.5  # the users' picks per second
# The probes: (path, seconds between two). A load balancer's health check, the orchestrator's
# readiness probe and an uptime monitor's ping. They pause with the users under traffic_drop
# (the sandbox's "request rate drops to zero").
PROBES: list[tuple[str, float]] = [
    ("/api/v1/health", 3.0),
    ("/api/v1/readiness", 5.0),
    ("/api/v1/ping", 10.0),
]
PROBE_AGENT = "kube-probe/1.29"


def shares(rate: float = USER_RATE) -> dict[str, float]:
    """Each path's share of all requests (a sign-up counted once): the users' picks at `rate`
    per second, and the probes."""
    per_s = {path: w for path, _, w in REQUESTS}
    total_w = sum(per_s.values())
    per_s = {path: rate * w / total_w for path, w in per_s.items()}
    per_s.update({path: 1.0 / every for path, every in PROBES})
    total = sum(per_s.values())
    return {path: n / total for path, n in per_s.items()}


class TrafficGenerator:
    """A few threads sending weighted requests with short timeouts, never crashing."""

    def __init__(
        self,
        base_url: str,
        password_reader: Callable[[], str],
        verify: ssl.SSLContext | bool = True,
        otp_for: Callable[[str], str] | None = None,
        threads: int = 3,
        rate: float = USER_RATE,
    ) -> None:
        self.base_url = base_url
        self._verify = verify
        self._password_reader = password_reader
        # The code the real service would e-mail to a new address (see auth.signup_otp).
        self._otp_for = otp_for
        self._threads = threads
        self._interval = threads / rate
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._deploy = 0
        self._token_deploy = -1
        self._burst = 0
        self._project_id: str | None = None
        self._next_login = 0.0
        self._workers: list[threading.Thread] = []
        self._last_error_log: dict[str, float] = {}
        self.sent = 0
        self.failed = 0

    def start(self) -> None:
        """Start the worker threads and the prober."""
        for index in range(self._threads):
            worker = threading.Thread(target=self._run, name=f"traffic-{index}", daemon=True)
            worker.start()
            self._workers.append(worker)
        prober = threading.Thread(target=self._probe, name="traffic-probes", daemon=True)
        prober.start()
        self._workers.append(prober)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop and join the workers (a request in flight ends within its 2 s timeout)."""
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout)

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        """The traffic_drop fault: no more requests until resume()."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def new_deploy(self, burst: int = 45) -> None:
        """A new app process is up: log in again and send a burst of requests."""
        with self._lock:
            self._deploy += 1
            self._token = None
            self._next_login = 0.0
            self._burst = burst

    def _note_error(self, kind: str, detail: str) -> None:
        with self._lock:
            self.failed += 1
            now = time.monotonic()
            # One line per kind of failure every 10 s keeps supervisor.log readable.
            if now - self._last_error_log.get(kind, 0.0) < 10:
                return
            self._last_error_log[kind] = now
        log.warning("traffic: %s: %s", kind, detail)

    def _login(self, client: httpx.Client) -> None:
        with self._lock:
            if self._token is not None and self._token_deploy == self._deploy:
                return
            # After a failed login, real clients back off too; don't hammer a broken endpoint.
            if time.monotonic() < self._next_login:
                return
            self._next_login = time.monotonic() + 2.0
            deploy = self._deploy
        response = client.post(
            "/api/v1/auth/login", json={"email": state.TRAFFIC_USER_EMAIL, "password": self._password_reader()}
        )
        with self._lock:
            self.sent += 1
        if response.status_code != 200:
            self._note_error("login", f"HTTP {response.status_code}")
            return
        with self._lock:
            self._token = response.json()["access_token"]
            self._token_deploy = deploy

    def _take_burst(self) -> bool:
        with self._lock:
            if self._burst > 0:
                self._burst -= 1
                return True
            return False

    def _run(self) -> None:
        paths = [entry[:2] for entry in REQUESTS]
        weights = [entry[2] for entry in REQUESTS]
        headers = {"User-Agent": "sandbox-traffic"}
        with httpx.Client(base_url=self.base_url, timeout=2.0, headers=headers, verify=self._verify) as client:
            while not self._stop.is_set():
                if self._paused.is_set():
                    self._stop.wait(0.2)
                    continue
                bursting = self._take_burst()
                path, needs_token = random.choices(paths, weights)[0]
                try:
                    self._one(client, path, needs_token)
                except httpx.HTTPError as exc:
                    self._note_error(type(exc).__name__, f"{path}: {exc}")
                except Exception as exc:  # never let a surprise kill the trickle
                    self._note_error(type(exc).__name__, f"{path}: {exc!r}")
                if not bursting:
                    # Jitter keeps the threads from marching in step.
                    self._stop.wait(self._interval * random.uniform(0.6, 1.4))

    def _probe(self) -> None:
        """Send each of PROBES every its interval (first ones at random offsets), never in a burst."""
        now = time.monotonic()
        due = {path: now + random.uniform(0, every) for path, every in PROBES}
        every = dict(PROBES)
        headers = {"User-Agent": PROBE_AGENT}
        with httpx.Client(base_url=self.base_url, timeout=2.0, headers=headers, verify=self._verify) as client:
            while not self._stop.is_set():
                path = min(due, key=lambda p: due[p])
                left = due[path] - time.monotonic()
                if left > 0:
                    self._stop.wait(left)
                    continue
                # After a pause or a slow answer, the next one is an interval later: no catching up.
                due[path] = max(due[path] + every[path], time.monotonic())
                if self._paused.is_set():
                    continue
                try:
                    response = client.get(path)
                except httpx.HTTPError as exc:
                    self._note_error(type(exc).__name__, f"{path}: {exc}")
                    continue
                except Exception as exc:  # never let a surprise stop the probes
                    self._note_error(type(exc).__name__, f"{path}: {exc!r}")
                    continue
                with self._lock:
                    self.sent += 1
                if response.status_code >= 500:
                    self._note_error(f"HTTP {response.status_code}", path)

    def _one(self, client: httpx.Client, path: str, needs_token: bool) -> None:
        extra: dict[str, str] = {}
        if needs_token:
            self._login(client)
            with self._lock:
                token = self._token
            if token is None:
                # Not logged in (yet, or the login failed): the user reads a public page meanwhile.
                path, extra = "/api/v1/version", {}
            else:
                extra = {"Authorization": f"Bearer {token}"}
        if path == "signup":
            email = f"user-{secrets.token_hex(6)}@signup.amani.test"
            body: dict[str, object] = {
                "email": email,
                "password": secrets.token_urlsafe(12),
                "full_name": "Sandbox Signup",
            }
            response = client.post("/api/v1/auth/signup", json=body)
            if response.status_code == 201 and self._otp_for is not None:
                with self._lock:
                    self.sent += 1
                otp = {"email": email, "otp": self._otp_for(email)}
                response = client.post("/api/v1/auth/verify-otp", json=otp)
        elif path == "escrow":
            if self._project_id is None or "Authorization" not in extra:
                return
            # Holds only: a release names a milestone (EscrowReleaseRequest), which the
            # traffic does not look up.
            body = {
                "project_id": self._project_id,
                "amount": random.randint(1_000, 50_000),
                "payment_method": "card",
            }
            response = client.post("/api/v1/escrow/hold", json=body, headers=extra)
        else:
            response = client.get(path, headers=extra)
            if path == "/api/v1/projects" and response.status_code == 200:
                items = response.json().get("items") or []
                self._project_id = items[0]["id"] if items else self._project_id
        with self._lock:
            self.sent += 1
        if response.status_code == 401 and needs_token:
            with self._lock:
                self._token = None
        elif response.status_code >= 500:
            self._note_error(f"HTTP {response.status_code}", path)
