"""End to end: a real run exports to the REAL Pushgateway, a Grafana stand-in and the Slack stand-in.

One first15 run against the session's sandbox with every export configured: the report has
its charts, the timeline lists the run, the Pushgateway holds the samples, Grafana got the
documented annotation, Slack got the verdict, and no webhook URL or token is in any
artifact. Then a tiny request budget (verdict issues), and `slack_down` (notify.team fails).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grafana_recorder import check_annotation_request, recording
from sandbox.common.state import pick_port
from sandboxrun import ROOT, Sandbox

GRAFANA_TOKEN = "glsa_e2e_canary_token_7c1f"


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Debian prometheus-pushgateway on 127.0.0.1, as a child of this process."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        pytest.skip("prometheus-pushgateway is not installed (make setup installs it)")
    for _ in range(5):
        port = pick_port()
        log = (tmp_path_factory.mktemp("pushgateway") / "log").open("wb")
        proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # bounded poll: the Pushgateway process is starting
        if proc.poll() is None:
            break
    else:
        pytest.fail("prometheus-pushgateway did not start")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="module")
def grafana() -> Iterator[tuple[str, list]]:
    with recording() as standin:
        yield standin


def with_env_file(
    box: Sandbox, folder: Path, extra: str = "", replace: tuple[str, str] | None = None, drop: str = ""
) -> Sandbox:
    """The sandbox, run with a copy of environments/local.toml plus `extra` (POSTDEPLOY_ENV_DIR).

    `drop` removes a table of local.toml first (ours replaces it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "environments" / "local.toml").read_text()
    if drop:
        text = re.sub(rf"(?ms)^\[{re.escape(drop)}\]\n.*?(?=^\[|\Z)", "", text)
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    (folder / "local.toml").write_text(text + "\n" + extra)
    env = {**box.env, "POSTDEPLOY_ENV_DIR": str(folder), "PD_GRAFANA_TOKEN": GRAFANA_TOKEN}
    return Sandbox(box.folder, env)


def slack_messages(box: Sandbox) -> list[dict]:
    return httpx.get(f"{box.state()['slack_url']}/_sandbox/messages", timeout=5).json()


def test_run_exports_everything_and_leaks_nothing(box: Sandbox, tmp_path: Path, pushgateway: str, grafana) -> None:
    grafana_url, seen = grafana
    extra = (
        f'[grafana]\nurl = "{grafana_url}"\ntoken_env = "PD_GRAFANA_TOKEN"\n'
        '[grafana_annotation]\ndashboard_uid = "amani-overview"\n'
    )
    runner = with_env_file(box, tmp_path / "envs", extra, drop="grafana")
    before = len(slack_messages(box))
    reports = tmp_path / "reports"
    run = runner.run_suite(reports, f"--pushgateway-url={pushgateway}")
    assert run.record["verdict"] == "success", run.output[-3000:]
    assert run.record["exports"] == {
        "pushgateway": f"pushed to Pushgateway {pushgateway}/metrics/job/postdeploy/env/local/phase/first15",
        "grafana": f"annotation 42 added in Grafana {grafana_url}",
        "slack": "verdict posted to the Slack webhook",
    }

    # Charts at the top of the report: inline SVG, a deploy marker, no script from elsewhere.
    page = (run.folder / "report.html").read_text()
    assert page.count('class="postdeploy-chart"') == 2 and 'class="deploy-marker"' in page
    assert page.index("postdeploy-chart") < page.index("Deployment record")  # above the sign-off
    assert not re.search(r"<script[^>]+src=", page)

    # The timeline of the deployment lists the run, its verdict and a link to its report.
    timeline = (run.folder / run.record["reports"]["timeline"]).resolve()
    assert timeline == reports / "local" / "1.4.2" / "timeline.html"
    assert f"../{run.folder.name}/report.html" in timeline.read_text() and "SUCCESS" in timeline.read_text()

    # Budget: requests sent vs the phase's budget, in the record.
    assert run.record["budget"] == {
        "phase": "first15",
        "limit": 200,
        "sent": run.record["api_requests"],
        "exceeded": False,
    }

    # The real Pushgateway holds one sample per check that ran, the verdict and the run time.
    metrics = httpx.get(f"{pushgateway}/metrics", timeout=5).text
    mine = [ln for ln in metrics.splitlines() if ln.startswith("postdeploy_")]
    checks = {c["id"] for c in run.record["checks"] if c["outcome"] not in ("skipped", "pending")}
    passed = {m.group(1) for ln in mine if (m := re.search(r'check="([^"]+)"', ln)) and ln.endswith(" 1")}
    assert passed == checks
    assert any(
        ln.startswith("postdeploy_check_passed{")
        and 'check="health"' in ln
        and 'env="local"' in ln
        and 'phase="first15"' in ln
        and 'severity="critical"' in ln
        for ln in mine
    )
    verdict = next(ln for ln in mine if ln.startswith("postdeploy_verdict{"))
    assert 'env="local"' in verdict and 'phase="first15"' in verdict and verdict.endswith(" 0")
    stamp = next(ln for ln in mine if ln.startswith("postdeploy_run_timestamp_seconds{"))
    assert abs(float(stamp.split()[-1]) - time.time()) < 600

    # Grafana got the documented annotation at the deploy time.
    deployed_ms = int(__import__("datetime").datetime.fromisoformat(run.record["deployed_at"]).timestamp() * 1000)
    body = check_annotation_request(seen[-1], GRAFANA_TOKEN, deployed_ms)
    assert body["dashboardUID"] == "amani-overview" and "SUCCESS" in body["text"]

    # Slack got the verdict with the report's location.
    new = slack_messages(box)[before:]
    assert any("*SUCCESS*" in m["text"] and str(run.folder / "report.html") in m["text"] for m in new)

    # No webhook URL (its secret part), Grafana token or other secret in any artifact.
    hook = (box.folder / "secrets" / "slack_webhook_url").read_text().strip()
    canaries = [hook, hook.rsplit("/", 1)[1], GRAFANA_TOKEN]
    for path in [p for p in reports.rglob("*") if p.is_file()]:
        text = path.read_bytes().decode("utf-8", "replace")
        for canary in canaries:
            assert canary not in text, f"{canary[:6]}... found in {path}"
    assert not any(c in run.output for c in canaries)


def test_budget_exceeded_makes_the_verdict_issues(box: Sandbox, tmp_path: Path) -> None:
    runner = with_env_file(box, tmp_path / "envs", replace=("\nfirst15 = 200\n", "\nfirst15 = 3\n"))
    run = runner.run_suite(tmp_path / "reports", "--no-exports")
    assert run.record["budget"]["exceeded"] is True and run.record["budget"]["limit"] == 3
    assert run.record["verdict"] == "issues", run.record["verdict_reasons"]
    assert any("request budget exceeded" in r and "budget 3" in r for r in run.record["verdict_reasons"])
    assert "EXCEEDED" in (run.folder / "report.html").read_text()
    assert run.record["exports"] == {"all": "off (--no-exports)"}


def test_notify_team_posts_and_fails_when_slack_is_down(box: Sandbox, tmp_path: Path) -> None:
    before = len(slack_messages(box))
    run = box.run_suite(tmp_path / "ok", marks="pre_deploy")
    assert run.check("notify.team")["outcome"] == "passed"
    texts = [m["text"] for m in slack_messages(box)[before:]]
    assert any(t.startswith(":rocket: Deploying *1.4.2*") for t in texts)

    assert box.cli("fault", "slack_down").returncode == 0
    try:
        run = box.run_suite(tmp_path / "down", marks="pre_deploy")
    finally:
        box.cli("heal")
    notify = run.check("notify.team")
    assert notify["outcome"] == "failed" and notify["severity"] == "minor"
    assert "team not notified: Slack webhook answered 500" in notify["summary"]
    # Minor: recorded, never decides (the phase's other checks may; they are not this test's).
    assert not any("notify.team" in reason for reason in run.record["verdict_reasons"]), run.record["verdict_reasons"]
    assert run.record["exports"]["slack"].startswith("FAILED: Slack webhook answered 500")
    hook = (box.folder / "secrets" / "slack_webhook_url").read_text().strip()
    assert hook.rsplit("/", 1)[1] not in json.dumps(run.record) + run.output


def test_allure_severity_history_and_single_file_report(box: Sandbox, tmp_path: Path) -> None:
    """Severity labels mapped from ours; `make allure-report` (npm, pinned, no analytics); history carried."""
    reports = tmp_path / "reports"
    first = box.run_suite(reports, "--no-exports")
    labels = {}
    for path in (first.folder / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text())
        labels[result["name"]] = {lb["name"]: lb["value"] for lb in result["labels"]}
    assert (
        labels["test_health"]["severity"] == "critical" and labels["test_health"]["postdeploy_severity"] == "critical"
    )
    assert labels["test_latency_p95"]["severity"] == "normal"  # Allure has no "major": ours maps to normal

    if not (shutil.which("npm") and shutil.which("java")):
        pytest.skip("make allure-report needs npm and Java 17: not installed here")
    make = subprocess.run(
        ["make", "-s", "allure-report", f"RUN={first.folder}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if make.returncode != 0 and "npm" in make.stderr and not (ROOT / ".allure").is_dir():
        pytest.skip(f"npm could not install allure-commandline: {make.stderr[-300:]}")
    assert make.returncode == 0, make.stdout + make.stderr
    page = (first.folder / "allure-report" / "index.html").read_text()
    assert "googletagmanager" not in page and "google-analytics" not in page
    assert not re.search(r"<script[^>]+src=\"https?:", page)  # one file, nothing fetched
    assert (first.folder / "allure-report" / "history" / "history.json").is_file()

    second = box.run_suite(reports, "--no-exports")
    carried = second.folder / "allure-results" / "history" / "history-trend.json"
    assert carried.is_file() and json.loads(carried.read_text())[0]["data"]["total"] >= 1
