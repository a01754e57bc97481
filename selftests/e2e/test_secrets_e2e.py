"""Secrets never leave: no report, record or console output of a run holds a secret.

The suite runs against the sandbox from an environment file of our own that takes every
secret from an environment variable (`password_env`, `token_env`) holding the sandbox's
real, random secret values; those values are the canaries. Every phase runs (first15,
first_hour, first_24h, pre_deploy and daily under xdist, weekly serially: the restore
password, the Grafana token, the FinCra key, the SMTP password and the Slack webhook URL
are used there) on the healthy sandbox, and first15 and first_hour with faults that
make auth and reads fail loudly and quote error bodies, plus one serial `--allow-writes`
run (the write check sends the token on POST and DELETE). Then every file of every
reports folder and the runs' stdout and stderr are searched for each canary, for any
`Bearer <token>` and for anything that looks like a JWT. The sandbox's own logs are not
ours and are not searched. A hit names the canary and the file and line, never the value.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sandboxrun import ATTESTED, ROOT, Run, Sandbox, seed_history

# Secret file of the sandbox -> the environment variable our environment file names instead.
SECRET_VARS = {
    "test_user_password": "PD_E2E_USER_PASSWORD",
    "db_password": "PD_E2E_DB_PASSWORD",
    "sentry_token": "PD_E2E_SENTRY_TOKEN",
    "restore_db_password": "PD_E2E_RESTORE_DB_PASSWORD",
    # The Slack stand-in's webhook URL (its last part is the credential): the verdict goes there.
    "slack_webhook_url": "PD_E2E_SLACK_WEBHOOK_URL",
    "grafana_token": "PD_E2E_GRAFANA_TOKEN",
    "fincra_api_key": "PD_E2E_FINCRA_API_KEY",
    "smtp_password": "PD_E2E_SMTP_PASSWORD",
}
# A Prometheus bearer token: the sandbox's Prometheus ignores it, the suite sends it on every query.
PROM_TOKEN_VAR = "PD_E2E_PROM_TOKEN"
# What a credential looks like whatever its value (the suite's own login token differs from ours).
PATTERNS = {
    "a bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}"),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}"),
}
# pytest-html's environment table may show these and nothing else.
OUR_METADATA = {"Python", "Platform", "Packages", "Plugins", "Environment", "Phase", "Targets", "Thresholds"}
# Faults that make error bodies quote a traceback, with a live token (reads fail) and then without (login fails).
READ_FAULTS = ("stacktrace_leak", "projects_broken", "transactions_broken")
LOGIN_FAULT = "login_broken"
# [wait] attempts in our file (local.toml has 10): the record shows it in its thresholds.
MARK_ATTEMPTS = 7


@dataclass
class Planted:
    """Our environment folder, the variables a run gets, and the canaries: name -> value."""

    env_dir: Path
    env: dict[str, str]
    canaries: dict[str, str]

    def __repr__(self) -> str:
        # pytest shows a failing test's arguments: names only, never a value.
        return f"Planted({self.env_dir}, canaries {sorted(self.canaries)})"


@dataclass
class Outcome:
    """One run of the suite and the reports folder it wrote into."""

    run: Run
    reports: Path

    def __repr__(self) -> str:
        # The output could hold a leaked secret: a failing test's arguments show the folder only.
        return f"Outcome(exit {self.run.returncode}, {self.run.seconds:.1f}s, {self.reports})"


def our_environment_file(local_toml: str) -> str:
    """Return local.toml's content with every secret taken from an environment variable."""
    text, count = re.subn(
        r'^(\w+)_file = ".*/secrets/(\w+)"$',
        lambda m: f'{m[1]}_env = "{SECRET_VARS[m[2]]}"',
        local_toml,
        flags=re.MULTILINE,
    )
    assert count == len(SECRET_VARS), f"local.toml names {count} secret files, expected {len(SECRET_VARS)}"
    # A mark that the record shows (its thresholds), proving a run read this file and not local.toml.
    text, count = re.subn(r"^attempts = \d+$", f"attempts = {MARK_ATTEMPTS}", text, flags=re.MULTILINE)
    assert count == 1 and "[prometheus]\n" in text
    return text.replace("[prometheus]\n", f'[prometheus]\ntoken_env = "{PROM_TOKEN_VAR}"\n', 1)


def login_token(box: Sandbox, password: str) -> str:
    """Log in as the synthetic user ourselves and return the access token (over the sandbox CA)."""
    state = box.state()
    verify = ssl.create_default_context(cafile=state["ca_file"])
    with httpx.Client(base_url=state["api_url"], verify=verify, timeout=5.0) as client:
        resp = client.post("/api/v1/auth/login", json={"email": state["test_user_email"], "password": password})
    assert resp.status_code == 200, f"our own login answered {resp.status_code}"
    return resp.json()["access_token"]


@pytest.fixture(scope="module")
def planted(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Planted:
    """An environment folder of our own, the sandbox's real secrets in variables, and CI variables."""
    env_dir = tmp_path_factory.mktemp("secret-envs")
    (env_dir / "local.toml").write_text(our_environment_file((ROOT / "environments" / "local.toml").read_text()))
    values = {name: (box.folder / "secrets" / name).read_text().strip() for name in SECRET_VARS}
    prom_token = f"canary-{secrets.token_hex(12)}"
    ci_canary = f"canary-{secrets.token_hex(12)}"
    env = {
        **box.env,
        "POSTDEPLOY_ENV_DIR": str(env_dir),
        **{SECRET_VARS[name]: value for name, value in values.items()},
        PROM_TOKEN_VAR: prom_token,
        # Variables pytest-metadata copies into the report's environment table; one holds a credential.
        "GIT_URL": f"https://ci:{ci_canary}@git.invalid/amani.git",
        "BUILD_TAG": "postdeploy-selftest-build-tag",
    }
    canaries = {
        **values,
        "prometheus token": prom_token,
        "credential in GIT_URL": ci_canary,
        "our own access token": login_token(box, values["test_user_password"]),
    }
    assert all(len(v) >= 16 for v in canaries.values())
    return Planted(env_dir, env, canaries)


@pytest.fixture(scope="module")
def runs(box: Sandbox, planted: Planted, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every phase on the healthy sandbox, with faults, and one serial write run; label -> outcome."""
    ours = Sandbox(box.folder, planted.env)
    out: dict[str, Outcome] = {}

    def run(label: str, marks: str, *args: str) -> None:
        reports = tmp_path_factory.mktemp(f"reports-{label}")
        out[label] = Outcome(ours.run_suite(reports, *args, marks=marks), reports)

    run("healthy-first15", "first15", "-n", "2")
    run("healthy-first_hour", "first_hour", "-n", "2")
    run("writes-first15-serial", "first15", "--allow-writes")
    run("healthy-weekly", "weekly")
    # The other phases, under xdist, with every manual item attested and the records they read.
    seeded = tmp_path_factory.mktemp("reports-seeded")
    seed_history(seeded, box.state())
    for phase in ("pre_deploy", "first_24h", "daily"):
        out[f"healthy-{phase}"] = Outcome(ours.run_suite(seeded, "-n", "2", *ATTESTED, marks=phase), seeded)
    try:
        for fault in READ_FAULTS:
            proc = box.cli("fault", fault)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        run("reads-failing-first15", "first15", "-n", "2")
        proc = box.cli("fault", LOGIN_FAULT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run("login-failing-first15", "first15", "-n", "2")
        run("login-failing-first_hour", "first_hour", "-n", "2")
    finally:
        healed = box.cli("heal")
    assert healed.returncode == 0, healed.stdout + healed.stderr
    yield out


LABELS = [
    "healthy-first15",
    "healthy-first_hour",
    "writes-first15-serial",
    "healthy-weekly",
    "healthy-pre_deploy",
    "healthy-first_24h",
    "healthy-daily",
    "reads-failing-first15",
    "login-failing-first15",
    "login-failing-first_hour",
]


def find_secrets(text: str, where: str, canaries: dict[str, str]) -> list[str]:
    """Return "where:line: name" for every canary and credential pattern in `text` (never the value)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        names = [name for name, value in canaries.items() if value in line]
        names += [name for name, pattern in PATTERNS.items() if pattern.search(line)]
        found += [f"{where}:{number}: {name}" for name in names]
    return found


def masked(text: str, canaries: dict[str, str]) -> str:
    """Return `text` with every canary replaced by its name, fit for an assertion message."""
    for name, value in canaries.items():
        text = text.replace(value, f"<{name}>")
    return text


def test_the_runs_took_their_secrets_from_our_variables(runs: dict[str, Outcome], planted: Planted) -> None:
    """Every run loaded our environment file, and the secrets in it worked (or the fault broke them)."""
    for label, outcome in runs.items():
        assert outcome.run.record["thresholds"]["wait"].startswith(f"{MARK_ATTEMPTS} x "), label
    healthy = runs["healthy-first15"].run.outcomes()
    for check_id in ("auth.login", "db.read", "business.flow", "sentry.new", "error_rate"):
        assert healthy[check_id] == "passed", f"{check_id}: {runs['healthy-first15'].run.text(check_id)}"
    assert runs["healthy-first_hour"].run.outcomes()["input.robust"] == "passed"
    assert runs["writes-first15-serial"].run.outcomes()["business.flow.write"] == "passed"
    # The restore role's password from our variable: the weekly restore test logged in with it.
    assert runs["healthy-weekly"].run.outcomes()["backup.restore"] == "passed"
    # The Grafana token, the FinCra key and the SMTP password from our variables worked.
    assert runs["healthy-pre_deploy"].run.outcomes()["monitoring.ready"] == "passed"
    assert runs["healthy-first_24h"].run.outcomes()["integrations"] == "passed"
    reads = runs["reads-failing-first15"].run
    assert reads.outcomes()["auth.login"] == "passed"
    assert {"db.read", "business.flow", "errors.no_leak"} <= reads.failed()
    assert "auth.login" in runs["login-failing-first15"].run.failed()


@pytest.mark.parametrize("label", LABELS)
def test_no_secret_in_any_artifact_or_output(runs: dict[str, Outcome], planted: Planted, label: str) -> None:
    """No canary, bearer token or JWT in any file of the reports folder, nor in stdout or stderr."""
    outcome = runs[label]
    files = sorted(p for p in outcome.reports.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert {"report.html", "junit.xml", "record.json"} <= names, sorted(names)
    assert any(p.parent.name == "allure-results" for p in files)
    found = find_secrets(outcome.run.output, f"{label} stdout/stderr", planted.canaries)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        found += find_secrets(text, str(path.relative_to(outcome.reports)), planted.canaries)
    assert not found, "secrets leaked:\n" + "\n".join(found)


def html_environment(report: Path) -> dict[str, object]:
    """Return the environment table (pytest-metadata) that pytest-html embeds in report.html."""
    match = re.search(r'data-jsonblob="([^"]*)"', report.read_text(encoding="utf-8"))
    assert match, f"{report}: no data-jsonblob"
    return json.loads(html.unescape(match[1]))["environment"]


@pytest.mark.parametrize("label", LABELS)
def test_html_environment_table_shows_only_ours(runs: dict[str, Outcome], label: str) -> None:
    """The report's environment table holds our entries only, no CI or other environment variable."""
    table = html_environment(runs[label].run.folder / "report.html")
    assert "Environment" in table, sorted(table)
    assert set(table) <= OUR_METADATA, f"extra entries: {sorted(set(table) - OUR_METADATA)}"


def test_a_secret_inside_a_target_url_is_masked_in_the_header(planted: Planted, tmp_path: Path) -> None:
    """A secret named by `token_env` whose value is also in the Prometheus URL never shows in the header."""
    local = (planted.env_dir / "local.toml").read_text()
    text, count = re.subn(
        r'^url = "\$\{state:prometheus_url\}"$',
        f'url = "https://postdeploy:${{env:{PROM_TOKEN_VAR}}}@prometheus.invalid:9090"',
        local,
        flags=re.MULTILINE,
    )
    assert count == 1
    (planted.env_dir / "urlsecret.toml").write_text(text)
    cmd = [sys.executable, "-m", "pytest", "-m", "first15", "--env", "urlsecret", "--collect-only"]
    cmd.append(f"--reports-dir={tmp_path}")
    proc = subprocess.run(cmd, cwd=ROOT, env=planted.env, capture_output=True, text=True, timeout=60, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, masked(output[-2000:], planted.canaries)
    assert "target prometheus: https://postdeploy:" in output
    found = find_secrets(output, "--collect-only stdout/stderr", planted.canaries)
    assert not found, "secrets leaked:\n" + "\n".join(found)
    assert not list(tmp_path.rglob("*.*")), "a collect-only run wrote reports"
