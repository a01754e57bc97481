"""End to end: monitoring setup, load probe, integrations and alerts against the real sandbox.

Runs only this area's test files (other helpers add checks to the same phases), healthy and
with each of its faults, and reads the record. The load probe's p50 is compared with the
server-side histogram of the same requests: the probe must not measure itself.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from postdeploy.checks.loadprobe import server_p50_query
from sandboxrun import ROOT, Sandbox, wait_for

FILES = (
    "tests_metrics/test_pre_deploy_monitoring.py",
    "tests_integrations/test_integrations.py",
    "tests_metrics/test_daily_alerts.py",
)
PHASES = "pre_deploy or first_24h or daily or weekly"
CHECKS = {"monitoring.ready", "load.probe", "integrations", "morning.health", "alerts.tuning"}

# faults injected together -> {check that must fail: words its message must contain}, and the
# files to run. Faults that concern different parts of one check share a run (one heal, ~5 s,
# instead of three): each part's message names its own fault's evidence.
EXPECT: dict[tuple[str, ...], tuple[dict[str, list[str]], tuple[str, ...]]] = {
    ("rules_missing",): (
        {"monitoring.ready": ["10 of 10 expected alert rules missing in Prometheus", "HighErrorRate"]},
        (FILES[0] + "::test_monitoring_ready",),
    ),
    ("dashboard_missing", "sentry_bad_token"): (
        {
            "monitoring.ready": [
                "Grafana dashboard 'amani-backend' not found",
                "404 Dashboard not found",
                "refused the token (HTTP 401: Invalid token)",
            ]
        },
        (FILES[0] + "::test_monitoring_ready",),
    ),
    ("payments_down", "smtp_down"): (
        {
            "integrations": [
                "2 of 3 integration(s) failing",
                "payments (FinCra): FinCra",
                "answered 503 with text/html, not JSON",
                "email (SMTP): SMTP 127.0.0.1",
                "cannot connect",
            ]
        },
        (FILES[1],),
    ),
    ("alert_firing",): (
        {"morning.health": ["critical alert(s) firing in Alertmanager: ", "SandboxCriticalAlert"]},
        (FILES[2],),
    ),
}


def test_healthy_sandbox_passes_every_check_of_this_area(box: Sandbox, tmp_path: Path):
    run = box.run_suite(tmp_path, *FILES, marks=PHASES)
    outcomes = run.outcomes()
    assert {k for k, v in outcomes.items() if v == "passed"} == CHECKS, run.output[-3000:]
    assert run.returncode == 0, run.output[-3000:]
    # Evidence an on-call engineer can follow: what was asked, and what answered.
    assert "10 of 10 expected" in run.text("monitoring.ready")
    assert "AUTH 235" in run.text("integrations") and "no mail sent" in run.text("integrations")
    assert "authenticated as business" in run.text("integrations")
    secrets = box.folder / "secrets"
    for name in ("grafana_token", "fincra_api_key", "smtp_password", "sentry_token"):
        assert (secrets / name).read_text().strip() not in run.output + json.dumps(run.record)


@pytest.mark.parametrize("faults", sorted(EXPECT), ids="+".join)
def test_fault_fails_its_check(box: Sandbox, tmp_path: Path, faults: tuple[str, ...]):
    expected, selection = EXPECT[faults]
    for fault in faults:
        proc = box.cli("fault", fault)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        run = box.run_suite(tmp_path, *selection, marks=PHASES)
    finally:
        healed = box.cli("heal", timeout=120)
        assert healed.returncode == 0, healed.stdout + healed.stderr
    for check_id, words in expected.items():
        assert run.check(check_id)["outcome"] == "failed", run.output[-3000:]
        text = run.text(check_id)
        for word in words:
            assert word in text, f"{faults}: {check_id} says {text}"
    if "alert_firing" in faults:
        # The week's review lists the alert that just fired (once: not flapping).
        tuning = run.check("alerts.tuning")
        assert tuning["outcome"] == "passed" and "SandboxCriticalAlert" in tuning["summary"], tuning
    assert run.returncode == 1 and "Traceback" not in run.output


def _with_small_probe(box: Sandbox, tmp_path: Path) -> dict[str, str]:
    """An environment folder whose probe is small enough to run under the slow fault in seconds."""
    folder = tmp_path / "environments"
    folder.mkdir()
    text = (ROOT / "environments" / "local.toml").read_text()
    text = re.sub(
        r"\ncount = \d+\nconcurrency = \d+\nmax_duration = \S+",
        '\ncount = 24\nconcurrency = 8\nmax_duration = "6s"',
        text,
    )
    assert "count = 24" in text
    (folder / "local.toml").write_text(text)
    return {**box.env, "POSTDEPLOY_ENV_DIR": str(folder)}


def test_slow_fails_the_load_probe(box: Sandbox, tmp_path: Path):
    env = _with_small_probe(box, tmp_path)
    proc = box.cli("fault", "slow")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        run = Sandbox(box.folder, env).run_suite(tmp_path / "reports", FILES[0] + "::test_load_probe", marks=PHASES)
    finally:
        assert box.cli("heal", timeout=120).returncode == 0
    check = run.check("load.probe")
    assert check["outcome"] == "failed", run.output[-3000:]
    assert re.search(r"p50 \d+ ms is above 100 ms", check["summary"]), check["summary"]


def test_probe_p50_matches_the_server_side_histogram(box: Sandbox, tmp_path: Path):
    """The probe's own overhead (threads, TLS, pool) must not distort the p50 it reports."""
    run = box.run_suite(tmp_path, FILES[0] + "::test_load_probe", marks=PHASES)
    check = run.check("load.probe")
    assert check["outcome"] == "passed", run.output[-3000:]
    client_p50 = check["value"]["p50_ms"] / 1000
    start, end = (float(x) for x in re.findall(r"[\d.]+", check["evidence"]["window"])[:2])
    st = box.state()
    # Let Prometheus scrape the last of the burst (every 1 s in the sandbox).
    wait_for("a scrape after the probe's burst", lambda: box.scraped_after(end + 0.5), 30)
    paths = ["/api/v1/ping", "/api/v1/health", "/api/v1/projects"]
    query = server_p50_query(st["prometheus_job"], paths, time.time() - start + 1)
    body = httpx.get(f"{st['prometheus_url']}/api/v1/query", params={"query": query}, timeout=5).json()
    server_p50 = float(body["data"]["result"][0]["value"][1])
    # The Key-metrics p50 target is 100 ms: an overhead under half of it cannot flip a verdict.
    assert abs(client_p50 - server_p50) < 0.05, f"probe p50 {client_p50:.3f}s vs server {server_p50:.3f}s ({query})"
