"""Self-test of the sandbox itself: it starts, speaks the contract, breaks on demand, heals, and leaves nothing behind.

Runs alone in about 35 s: ``.venv/bin/python -m pytest selftests/e2e/test_sandbox.py``. The
tests share one sandbox (module scope) and run in file order; the last one takes it down.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.app.router import ROUTES
from sandbox.common.state import pid_alive
from sandbox.control.faults import FAULTS
from sandboxrun import Sandbox, sandbox_env, sandbox_status

ROOT = Path(__file__).resolve().parents[2]
STATE_KEYS = {
    "api_url",
    "http_url",
    "ca_file",
    "prometheus_url",
    "prometheus_job",
    "db_host",
    "db_port",
    "db_name",
    "db_user",
    "sentry_url",
    "sentry_org",
    "sentry_project",
    "sentry_project_id",
    "slack_url",
    "log_file",
    "disk_mountpoint",
    "app_pidfile",
    "test_user_email",
    "expected_version",
    "expected_commit",
    "control_url",
    "supervisor_pid",
    "data_dir",
    "deployed_at",
    "faults",
    "started_at",
}
# The backup folder and the restore server (sandbox/infra/backups.py).
STATE_KEYS |= {"backup_dir", "restore_db_host", "restore_db_port", "restore_db_name", "restore_db_user"}
# The services around the app (sandbox/control/services.py).
STATE_KEYS |= {
    "grafana_url",
    "grafana_dashboard",
    "alertmanager_url",
    "fincra_url",
    "smtp_host",
    "smtp_port",
    "smtp_user",
    "alerts_source",
}
# `up --history`: the backfilled span and the history faults (sandbox/infra/history.py).
STATE_KEYS |= {"history_seconds", "history_faults"}


@dataclass
class Box(Sandbox):
    """The sandbox under test (sandboxrun.Sandbox) and the time its `up` took."""

    up_seconds: float = 0.0

    def secret(self, name: str) -> str:
        return (self.folder / "secrets" / name).read_text().strip()

    def tls(self) -> ssl.SSLContext:
        """A client context that trusts the sandbox's CA and nothing else."""
        return ssl.create_default_context(cafile=self.state()["ca_file"])

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.state()["api_url"], timeout=5, verify=self.tls())

    def plain(self) -> httpx.Client:
        """The plain HTTP port, redirects not followed."""
        return httpx.Client(base_url=self.state()["http_url"], timeout=5)

    def peer_cert(self, context: ssl.SSLContext | None = None) -> dict[str, Any]:
        """Handshake on a new connection to the HTTPS port; the certificate it presents."""
        host, port = self.state()["api_url"].removeprefix("https://").split(":")
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            (context or self.tls()).wrap_socket(raw, server_hostname=host) as tls,
        ):
            return tls.getpeercert()

    def token(self) -> str:
        with self.api() as api:
            response = api.post(
                "/api/v1/auth/login",
                json={"email": self.state()["test_user_email"], "password": self.secret("test_user_password")},
            )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def prom(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.state()['prometheus_url']}/api/v1/query", params={"query": promql}, timeout=5)
        return response.json()["data"]["result"]

    def status(self) -> dict[str, Any]:
        return sandbox_status(self)


def _up(handle: Box) -> None:
    started = time.monotonic()
    up = handle.cli("up")
    handle.up_seconds = time.monotonic() - started
    log = handle.folder / "supervisor.log"
    assert up.returncode == 0, f"{up.stdout}{up.stderr}\n{log.read_text() if log.exists() else ''}"
    print(f"\nsandbox up took {handle.up_seconds:.1f}s")


@pytest.fixture(scope="module")
def module_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    folder = tmp_path_factory.mktemp("sandbox-state")
    handle = Box(folder, sandbox_env(folder))
    _up(handle)
    yield handle
    handle.cli("down")  # a no-op when test_down already ran


@pytest.fixture
def box(module_box: Box) -> Box:
    """The module's sandbox, started again if an earlier test (run out of order) took it down."""
    if not (module_box.folder / "state.json").exists():
        _up(module_box)
    return module_box


def test_up_is_quick_and_writes_the_state_file(box: Box) -> None:
    assert box.up_seconds < 15
    state = box.state()
    assert set(state) == STATE_KEYS
    assert state["api_url"].startswith("https://127.0.0.1:") and state["http_url"].startswith("http://127.0.0.1:")
    assert Path(state["ca_file"]).is_absolute() and Path(state["ca_file"]).read_text().startswith("-----BEGIN")
    assert oct((Path(state["ca_file"]).parent / "server.key").stat().st_mode & 0o777) == "0o600"
    assert state["prometheus_job"] == "amani-backend"
    assert (state["db_host"], state["db_name"], state["db_user"]) == ("127.0.0.1", "amani", "postdeploy_ro")
    assert state["expected_version"] == "1.4.2" and re.fullmatch(r"[0-9a-f]{40}", state["expected_commit"])
    assert state["faults"] == [] and state["data_dir"].startswith("/tmp/")
    assert oct((box.folder / "secrets").stat().st_mode & 0o777) == "0o700"
    for name in ("test_user_password", "db_password", "sentry_token", "app_db_password"):
        secret = box.folder / "secrets" / name
        assert oct(secret.stat().st_mode & 0o777) == "0o600"
        assert secret.read_text().strip() not in json.dumps(state)


def test_up_again_is_a_no_op(box: Box) -> None:
    again = box.cli("up")
    assert again.returncode == 0, again.stdout
    assert "already up" in again.stdout
    assert pid_alive(box.state()["supervisor_pid"])


def test_every_port_answers(box: Box) -> None:
    state = box.state()
    assert httpx.get(f"{state['api_url']}/api/v1/ping", timeout=5, verify=box.tls()).json() == {"message": "pong"}
    assert httpx.get(f"{state['prometheus_url']}/-/ready", timeout=5).status_code == 200
    assert httpx.get(f"{state['sentry_url']}/api/0/", timeout=5).status_code == 200
    assert box.status()["ready"] is True
    status = box.cli("status")
    assert status.returncode == 0 and "faults      none" in status.stdout
    assert all(state[key] in status.stdout for key in ("api_url", "http_url", "ca_file"))


def _days_left(cert: dict[str, Any]) -> float:
    return (ssl.cert_time_to_seconds(str(cert["notAfter"])) - time.time()) / 86400


def test_https_validates_with_the_ca_and_fails_without_it(box: Box) -> None:
    cert = box.peer_cert()
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"] and ("DNS", "localhost") in cert["subjectAltName"]
    assert 89 < _days_left(cert) <= 90
    with pytest.raises(ssl.SSLCertVerificationError):
        box.peer_cert(ssl.create_default_context())  # the system's trust store
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{box.state()['api_url']}/api/v1/ping", timeout=5)
    # The name a browser would use works too, against the same CA.
    localhost = box.state()["api_url"].replace("127.0.0.1", "localhost")
    assert httpx.get(f"{localhost}/api/v1/ping", timeout=5, verify=box.tls()).status_code == 200


def test_plain_http_redirects_except_metrics_and_forwarded_https(box: Box) -> None:
    api_url = box.state()["api_url"]
    with box.plain() as plain:
        for method in ("GET", "POST"):
            moved = plain.request(method, "/api/v1/ping?a=1&b=2")
            assert moved.status_code == 308, method
            assert moved.headers["Location"] == f"{api_url}/api/v1/ping?a=1&b=2"
            assert "Strict-Transport-Security" not in moved.headers
        metrics = plain.get("/metrics")
        assert metrics.status_code == 200 and "http_requests_total" in metrics.text
        proxied = plain.get("/api/v1/ping", headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 200 and proxied.json() == {"message": "pong"}
        assert proxied.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # Followed, the redirect lands on the API.
    with httpx.Client(timeout=5, verify=box.tls(), follow_redirects=True) as client:
        assert client.get(f"{box.state()['http_url']}/api/v1/ping").json() == {"message": "pong"}


def test_security_headers_and_cors_over_https(box: Box) -> None:
    with box.api() as api:
        ping = api.get("/api/v1/ping")
        assert ping.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert ping.headers["X-Content-Type-Options"] == "nosniff" and ping.headers["X-Frame-Options"] == "DENY"
        allowed = api.get("/api/v1/ping", headers={"Origin": "https://app.amani.com"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.amani.com"
        assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
        foreign = api.get("/api/v1/ping", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in foreign.headers
        preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        assert api.options("/api/v1/auth/login", headers=preflight).status_code == 400
        preflight["Origin"] = "https://app.amani.com"
        answer = api.options("/api/v1/auth/login", headers=preflight)
        assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "https://app.amani.com"


MALFORMED_LOGINS = [b'{"email": 5, "password": "x"}', b"[1, 2]", b"\xff\xfe{", b'{"email": "a@b.co", "pass', b""]
LEAK_MARKERS = ("Traceback", 'File "', "SELECT", ".py", "postgresql")


def test_errors_leak_nothing_and_openapi_lists_every_route(box: Box) -> None:
    with box.api() as api:
        missing = api.get("/no/such/page")
        assert missing.json() == {
            "error": {"code": "HTTP_404", "message": "Not Found", "status": 404, "path": "/no/such/page"}
        }
        for body in MALFORMED_LOGINS:
            answer = api.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "VALIDATION_ERROR", body
            assert not any(marker in answer.text for marker in (*LEAK_MARKERS, "debug")), body
        assert not any(marker in missing.text for marker in LEAK_MARKERS)
        spec = api.get("/openapi.json").json()
        assert spec["openapi"].startswith("3.")
        listed = {(method.upper(), path) for path, operations in spec["paths"].items() for method in operations}
        assert listed == {(method, path) for method, path, _ in ROUTES if path != "/openapi.json"}
        # Every listed operation is routed: whatever it answers without a token or body, not 404/405.
        for path, operations in spec["paths"].items():
            concrete = re.sub(r"\{\w+\}", "00000000-0000-0000-0000-000000000000", path)
            for method in operations:
                assert method == method.lower()
                answer = api.request(method.upper(), concrete)
                assert answer.status_code not in (404, 405), (method, path, answer.text)


def test_health_readiness_and_version_follow_the_contract(box: Box) -> None:
    with box.api() as api:
        health = api.get("/api/v1/health")
        readiness = api.get("/api/v1/readiness").json()
        version = api.get("/api/v1/version").json()
        root = api.get("/api/v1/").json()
    body = health.json()
    assert health.status_code == 200 and body["status"] == "healthy"
    assert body["checks"]["database"]["status"] == "healthy"
    assert body["checks"]["migrations"] == {
        "status": "healthy",
        "message": "Migrations are up to date",
        "current_version": "001_initial_schema",
    }
    assert readiness["ready"] is True
    assert set(readiness["checks"]) == {
        "database",
        "table_users",
        "table_wallet_registry",
        "table_wallet_balance_snapshot",
        "table_wallet_transaction_event",
    }
    assert version["version"] == "1.4.2" and version["build"]["commit_sha"] == box.state()["expected_commit"]
    assert set(version["build"]) == {"commit_sha", "build_time", "build_number", "build_branch"}
    assert set(version["runtime"]) == {"python_version", "platform"}
    assert root["app"] == "Amani Escrow Backend"


def test_login_and_authenticated_reads(box: Box) -> None:
    token = box.token()
    bearer = {"Authorization": f"Bearer {token}"}
    with box.api() as api:
        projects = api.get("/api/v1/projects", headers=bearer)
        transactions = api.get("/api/v1/escrow/transactions", headers=bearer)
        assert projects.status_code == 200 and transactions.status_code == 200
        for page in (projects.json(), transactions.json()):
            assert set(page) == {"items", "total", "page", "page_size", "has_more"} and page["items"]
        assert api.get("/api/v1/projects").status_code == 403
        assert api.get("/api/v1/projects", headers={"Authorization": "Bearer nope"}).status_code == 401
        wrong = api.post("/api/v1/auth/login", json={"email": box.state()["test_user_email"], "password": "x"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["message"] == "Incorrect email or password"
        unverified = api.post(
            "/api/v1/auth/login",
            json={"email": "pending-user@amani.test", "password": box.secret("unverified_user_password")},
        )
        assert unverified.status_code == 403
        malformed = api.post("/api/v1/auth/login", content=b"{not json")
        assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "VALIDATION_ERROR"
        missing = api.get("/api/v1/nothing-here", headers={"X-Request-ID": "selftest-42"})
        assert missing.status_code == 404 and missing.headers["x-request-id"] == "selftest-42"
        assert missing.json() == {
            "error": {"code": "HTTP_404", "message": "Not Found", "status": 404, "path": "/api/v1/nothing-here"}
        }


def test_prometheus_scrapes_the_app_and_loads_the_rules(box: Box) -> None:
    job = 'job="amani-backend"'
    total = box.prom(f"sum(http_requests_total{{{job}}})")
    assert total and float(total[0]["value"][1]) >= 30
    info = box.prom(f"amani_app_info{{{job}}}")
    assert info and info[0]["metric"]["version"] == "1.4.2"
    assert box.prom(f"db_connections_active{{{job}}}")
    rules = httpx.get(f"{box.state()['prometheus_url']}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert [group["name"] for group in rules] == ["amani_backend_alerts"]
    assert {rule["name"] for rule in rules[0]["rules"]} >= {"HighErrorRate", "ApplicationDown", "DiskSpaceLow"}


def test_sentry_stand_in_lists_issues(box: Box) -> None:
    state = box.state()
    url = f"{state['sentry_url']}/api/0/organizations/{state['sentry_org']}/issues/"
    auth = {"Authorization": f"Bearer {box.secret('sentry_token')}"}
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5).json() == {"detail": "Invalid token"}
    response = httpx.get(url, headers=auth, params={"limit": 1}, timeout=5)
    assert response.status_code == 200 and 'rel="next"; results="true"' in response.headers["Link"]
    issue = response.json()[0]
    assert issue["project"]["id"] == state["sentry_project_id"] and issue["status"] == "unresolved"
    recent = httpx.get(url, headers=auth, params={"query": "is:unresolved level:error firstSeen:-15m"}, timeout=5)
    assert recent.json() == []


def test_startup_lines_are_logged(box: Box) -> None:
    lines = [json.loads(line) for line in Path(box.state()["log_file"]).read_text().splitlines()]
    messages = [line["message"] for line in lines if line["name"] == "app.main"]
    assert "Starting Amani Escrow Backend..." in messages
    assert "Database initialized successfully" in messages
    assert not any(line["levelname"] == "ERROR" for line in lines)


def test_an_unknown_fault_lists_the_valid_ones(box: Box) -> None:
    result = box.cli("fault", "no_such_fault")
    assert result.returncode == 2
    assert all(name in result.stdout for name in FAULTS)


def test_faults_apply_and_heal_redeploys(box: Box) -> None:
    before = box.state()
    old_pid = box.status()["components"]["app"]["pid"]
    for name in ("db_down", "sentry_new_issue", "errors_5xx"):
        result = box.cli("fault", name)
        assert result.returncode == 0, result.stdout
    assert box.state()["faults"] == ["db_down", "sentry_new_issue", "errors_5xx"]
    token_free = box.api()
    health = token_free.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "unhealthy"
    assert "Connection refused" in health.json()["checks"]["database"]["message"]
    failed_login = token_free.post(
        "/api/v1/auth/login", json={"email": before["test_user_email"], "password": box.secret("test_user_password")}
    )
    assert failed_login.status_code == 500  # unhandled (DB) or injected: both are 500s
    metrics = token_free.get("/metrics").text
    token_free.close()
    assert re.search(r'^errors_total\{endpoint="[^"]+",error_type="OperationalError"\} [1-9]', metrics, re.M)
    sentry = httpx.get(
        f"{before['sentry_url']}/api/0/projects/amani/amani-backend/issues/",
        params={"query": "is:unresolved level:error firstSeen:-15m"},
        headers={"Authorization": f"Bearer {box.secret('sentry_token')}"},
        timeout=5,
    ).json()
    assert [issue["title"] for issue in sentry] == ["OperationalError: connection pool exhausted"]

    started = time.monotonic()
    healed = box.cli("heal")
    heal_seconds = time.monotonic() - started
    print(f"\nsandbox heal took {heal_seconds:.1f}s")
    assert healed.returncode == 0, healed.stdout
    assert heal_seconds < 15
    after = box.state()
    assert after["faults"] == [] and after["deployed_at"] > before["deployed_at"]
    assert box.status()["components"]["app"]["pid"] != old_pid
    with box.api() as api:
        assert api.get("/api/v1/health").json()["status"] == "healthy"
    assert box.status()["ready"] is True


def test_security_faults_apply_and_heal(box: Box) -> None:
    names = (
        "cert_expiring",
        "redirect_missing",
        "headers_missing",
        "stacktrace_leak",
        "input_500",
        "endpoint_removed",
        "cors_wildcard",
    )
    for name in names:
        result = box.cli("fault", name)
        assert result.returncode == 0, result.stdout
    assert 4 < _days_left(box.peer_cert()) <= 5  # a new connection gets the short-lived certificate
    bearer = {"Authorization": f"Bearer {box.token()}"}
    with box.plain() as plain:
        served = plain.get("/api/v1/ping")
        assert served.status_code == 200 and served.json() == {"message": "pong"}
    with box.api() as api:
        ping = api.get("/api/v1/ping", headers={"Origin": "https://evil.example"})
        for header in ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options"):
            assert header not in ping.headers
        assert ping.headers["Access-Control-Allow-Origin"] == "*"
        assert ping.headers["Access-Control-Allow-Credentials"] == "true"
        leaked = api.get("/no/such/page").text
        assert all(marker in leaked for marker in ("Traceback (most recent call last)", "/sandbox/app/", "SELECT"))
        assert api.post("/api/v1/auth/login", json={"email": 5}).status_code == 500
        assert api.post("/api/v1/auth/login", json=[1]).status_code == 500
        assert api.get("/api/v1/escrow/transactions", headers=bearer).status_code == 404
        assert "/api/v1/escrow/transactions" not in api.get("/openapi.json").json()["paths"]
        assert "/api/v1/projects" in api.get("/openapi.json").json()["paths"]

    healed = box.cli("heal")
    assert healed.returncode == 0, healed.stdout
    assert 89 < _days_left(box.peer_cert()) <= 90
    with box.plain() as plain:
        assert plain.get("/api/v1/ping").status_code == 308
    with box.api() as api:
        ping = api.get("/api/v1/ping", headers={"Origin": "https://evil.example"})
        assert "Strict-Transport-Security" in ping.headers and "Access-Control-Allow-Origin" not in ping.headers
        assert "Traceback" not in api.get("/no/such/page").text
        assert api.post("/api/v1/auth/login", json={"email": 5}).status_code == 422
        assert api.get("/api/v1/escrow/transactions", headers=bearer).status_code == 200
        assert "/api/v1/escrow/transactions" in api.get("/openapi.json").json()["paths"]


def test_down_leaves_no_process_and_no_data(box: Box) -> None:
    state = box.state()
    components = box.status()["components"]
    pids = [
        state["supervisor_pid"],
        components["app"]["pid"],
        components["postgres"]["pid"],
        components["prometheus"]["pid"],
    ]
    assert all(pid_alive(pid) for pid in pids)
    result = box.cli("down")
    assert result.returncode == 0, result.stdout
    assert not any(pid_alive(pid) for pid in pids)
    assert not Path(state["data_dir"]).exists()
    assert not (box.folder / "state.json").exists()
    assert box.cli("status").returncode == 3
    assert box.cli("down").returncode == 0


def test_up_after_down_starts_clean(box: Box) -> None:
    # The box fixture has just brought the sandbox up again from its leftovers.
    assert box.up_seconds < 15
    assert box.status()["ready"] is True
    with box.api() as api:
        assert api.get("/api/v1/health").json()["status"] == "healthy"
    data_dir = box.state()["data_dir"]
    assert box.cli("down").returncode == 0
    assert not Path(data_dir).exists()
