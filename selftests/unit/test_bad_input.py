"""Bad input gets one clear line, never a traceback and never a hang.

The real suite runs against environment files written here and against targets that
misbehave at the transport level: nothing listening, HTML where JSON was due, a server
that accepts connections and never answers.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxrun import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def suite(env_dir: Path, reports: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 90):
    env = {**os.environ, "POSTDEPLOY_ENV_DIR": str(env_dir), **(extra_env or {})}
    env.pop("POSTDEPLOY_ENV", None)
    cmd = [sys.executable, "-m", "pytest", "-m", "first15", f"--reports-dir={reports}", "-q", *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return proc, time.monotonic() - started


def env_file(folder: Path, name: str, base_url: str, extra: str = "") -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text(
        f'[api]\nbase_url = "{base_url}"\nconnect_timeout = "1s"\nread_timeout = "1s"\n'
        f'[api.user]\nemail = "a@b.c"\npassword_env = "PD_SELFTEST_PW"\n'
        f'[wait]\nattempts = 2\ninterval = "0.2s"\n[expected]\nversion = "9.9.9"\n{extra}'
    )


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (None, ["--env", "nowhere"], "unknown environment 'nowhere'"),
        ('[api]\nbase_url = "http://127.0.0.1:9"\ncolour = 1\n', ["--env", "bad"], "api.colour: unknown key"),
        ('[api]\nbase_url = "127.0.0.1:9"\n', ["--env", "bad"], "URL without a scheme"),
        (
            "[api]\nbase_url = 'http://x'\n[api.user]\nemail='a'\npassword_env='PD_UNSET_SECRET'\n",
            ["--env", "bad"],
            "PD_UNSET_SECRET is not set",
        ),
        (
            '[api]\nbase_url = "http://127.0.0.1:9"\n',
            ["--env", "bad", "--deployed-at", "yesterday"],
            "invalid deploy time",
        ),
    ],
)
def test_configuration_errors_are_one_line_and_exit_4(tmp_path, content, args, needle):
    envs = tmp_path / "envs"
    envs.mkdir()
    if content is not None:
        (envs / "bad.toml").write_text(content)
    proc, _ = suite(envs, tmp_path / "reports", *args)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and needle in errors[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_checks_without_an_environment_are_a_usage_error(tmp_path):
    proc, _ = suite(tmp_path, tmp_path / "reports")
    assert proc.returncode == 4
    assert "pass --env NAME" in proc.stderr


def test_unreachable_target_fails_fast_and_clearly(tmp_path):
    env_file(tmp_path / "envs", "dead", f"http://127.0.0.1:{free_port()}")
    proc, seconds = suite(
        tmp_path / "envs", tmp_path / "reports", "--env", "dead", extra_env={"PD_SELFTEST_PW": "pw-canary-4242"}
    )
    record = json.loads((tmp_path / "reports" / "dead" / "latest" / "record.json").read_text())
    outcomes = {c["id"]: c for c in record["checks"]}
    assert proc.returncode == 1
    assert seconds < 30
    # Root cause first (issue 11): the ping fails, everything that needs the service is blocked by it.
    assert outcomes["wait.ready"]["outcome"] == "failed"
    assert "cannot connect" in json.dumps(outcomes["wait.ready"])
    for check_id in ("deploy.version", "health", "readiness", "auth.login", "db.read"):
        assert outcomes[check_id]["outcome"] == "blocked", check_id
        assert outcomes[check_id]["summary"].startswith("blocked by wait.ready: "), outcomes[check_id]["summary"]
    assert record["verdict_reasons"][0].startswith("critical check wait.ready failed: the service never became ready")
    # Sections that are not configured skip, naming what to configure; they never pass.
    assert outcomes["error_rate"]["outcome"] == "skipped"
    assert "[prometheus]" in outcomes["error_rate"]["summary"]
    assert record["verdict"] == "rollback"
    assert "Traceback" not in proc.stdout
    assert "pw-canary-4242" not in proc.stdout + proc.stderr
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            assert "pw-canary-4242" not in path.read_text(errors="replace"), path


class HtmlHandler(http.server.BaseHTTPRequestHandler):
    """A proxy error page where the API should be: 200 and HTML for everything."""

    def _html(self) -> None:
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _html

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HtmlHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_html_where_json_was_due_is_a_failed_check(tmp_path, html_server):
    env_file(tmp_path / "envs", "html", html_server)
    proc, _ = suite(tmp_path / "envs", tmp_path / "reports", "--env", "html", extra_env={"PD_SELFTEST_PW": "pw"})
    record = json.loads((tmp_path / "reports" / "html" / "latest" / "record.json").read_text())
    outcomes = {c["id"]: c for c in record["checks"]}
    assert outcomes["health"]["outcome"] == "failed"
    assert "not JSON" in outcomes["health"]["summary"] and "text/html" in outcomes["health"]["summary"]
    assert "not JSON" in outcomes["auth.login"]["summary"]
    assert "Traceback" not in proc.stdout


def test_a_server_that_never_answers_cannot_hang_the_run(tmp_path):
    # A listening socket that never accepts: the kernel completes the handshake, nobody answers.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        env_file(tmp_path / "envs", "hang", f"http://127.0.0.1:{sock.getsockname()[1]}")
        proc, seconds = suite(
            tmp_path / "envs", tmp_path / "reports", "--env", "hang", extra_env={"PD_SELFTEST_PW": "pw"}
        )
    finally:
        sock.close()
    record = json.loads((tmp_path / "reports" / "hang" / "latest" / "record.json").read_text())
    outcomes = {c["id"]: c for c in record["checks"]}
    assert "no answer within 1s" in json.dumps(outcomes["wait.ready"])
    # Root cause first (issue 11): everything that needs the service is blocked by the ping.
    assert outcomes["deploy.version"]["summary"].startswith("blocked by wait.ready: the service never became ready")
    # 2 ping attempts, 1 s each, plus start-up: the dependants do not even try.
    assert seconds < 20, seconds
    assert record["verdict"] == "rollback"
