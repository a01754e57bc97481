"""End to end: backups, the release checks and attestations against a real sandbox.

The sandbox writes a real pg_dump at `up`; the weekly run really restores it with
pg_restore into a scratch database on the sandbox's Postgres (the restore role), and the
scratch database must be gone from pg_database afterwards, also when the restore fails.
Only this area's test files are selected: other areas add checks to the same phases.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sandboxrun import ROOT, Run, Sandbox, seed_history

FILES = (
    "tests_db/test_backups.py",
    "tests_smoke/test_pre_deploy_release.py",
    "tests_smoke/test_manual_attestations.py",
)
ATTESTED = (
    "--attest",
    "smoke.manual=qa@amani: clicked through login and escrow on staging",
    "--attest",
    "team.communicated=lead@amani: posted in #releases",
)

# fault -> {check that must fail: words its message must contain}
EXPECT: dict[str, dict[str, str]] = {
    "backup_missing": {
        "backup.fresh": "no backup in",
        "backup.daily": "no backup in",
        "backup.restore": "no backup in",
        "rollback.ready": "no backup in",
    },
    "backup_stale": {"backup.fresh": "is 26h", "backup.daily": "bound 24h"},
    "backup_corrupt": {
        "backup.fresh": "gzip stream is truncated",
        "backup.daily": "gzip stream is truncated",
        "backup.restore": "restore failed",
    },
}
ALL = "pre_deploy or daily or weekly"


def scratch_databases(box: Sandbox) -> list[str]:
    st = box.state()
    password = (box.folder / "secrets" / "restore_db_password").read_text().strip()
    with psycopg.connect(
        host=st["restore_db_host"],
        port=st["restore_db_port"],
        dbname=st["restore_db_name"],
        user=st["restore_db_user"],
        password=password,
        connect_timeout=5,
    ) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'postdeploy_restore%'").fetchall()
    return [r[0] for r in rows]


def run(box: Sandbox, reports: Path, marks: str, *args: str) -> Run:
    seed_history(reports, box.state())
    return box.run_suite(reports, *FILES, *args, marks=marks)


def test_healthy_pre_deploy_with_attestations_is_success(box: Sandbox, tmp_path: Path):
    # One attestation from the flag, one from the file POSTDEPLOY_ATTESTATIONS names.
    attest_file = tmp_path / "attestations.txt"
    attest_file.write_text("# P4\nteam.communicated=lead@amani: posted in #releases\n")
    ours = Sandbox(box.folder, {**box.env, "POSTDEPLOY_ATTESTATIONS": str(attest_file)})
    r = run(ours, tmp_path, "pre_deploy", *ATTESTED[:2])
    outcomes = r.outcomes()
    assert outcomes == {
        k: "passed"
        for k in (
            "backup.fresh",
            "changes.recorded",
            "smoke.manual",
            "staging.passed",
            "team.communicated",
            "rollback.ready",
        )
    }, r.output[-3000:]
    assert r.returncode == 0 and r.record["verdict"] == "success", r.record["verdict_reasons"]
    assert "gzipped custom-format dump" in r.text("backup.fresh") and "TOC entries" in r.text("backup.fresh")
    assert "git log --oneline -10" in r.check("changes.recorded")["evidence"]
    assert "20261126T190000Z-first15" in r.check("staging.passed")["summary"]
    assert "1.4.1" in r.check("rollback.ready")["summary"]
    smoke = r.check("smoke.manual")
    assert smoke["attestation"]["who"] == "qa@amani" and "escrow" in smoke["attestation"]["note"]
    assert r.record["pending_attestations"] == []
    assert r.check("team.communicated")["attestation"]["source"] == f"{attest_file}:2"
    signoff = (r.folder / "record.md").read_text()
    assert "smoke.manual attested by qa@amani: clicked through login and escrow on staging" in signoff


def test_pending_attestation_makes_the_verdict_issues(box: Sandbox, tmp_path: Path):
    r = run(box, tmp_path, "pre_deploy")
    assert r.record["verdict"] == "issues"
    assert sorted(r.record["pending_attestations"]) == ["smoke.manual", "team.communicated"]
    assert set(r.record["verdict_reasons"]) == {
        "attestation pending: smoke.manual",
        "attestation pending: team.communicated",
    }
    assert r.check("team.communicated")["attestation"]["status"] == "pending"
    assert "pending attestation: team.communicated" in (r.folder / "record.md").read_text()
    assert "pending attestation" in (r.folder / "report.html").read_text()


def test_attestation_typo_stops_the_run_with_one_line(box: Sandbox, tmp_path: Path):
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "pre_deploy",
        "--env",
        "local",
        f"--reports-dir={tmp_path}",
        "--attest",
        "suport.channels=a: b",
        *FILES,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=box.env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 4
    assert "unknown manual item 'suport.channels' from --attest" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_daily_and_weekly_restore_really_restores_and_drops(box: Sandbox, tmp_path: Path):
    daily = run(box, tmp_path / "d", "daily")
    assert daily.outcomes() == {"backup.daily": "passed"}, daily.output[-3000:]
    weekly = run(box, tmp_path / "w", "weekly")
    assert weekly.outcomes() == {"backup.restore": "passed"}, weekly.output[-3000:]
    ev = weekly.check("backup.restore")["evidence"]
    assert ev["alembic_version"] == "001_initial_schema"
    assert "users=" in ev["restored row counts"] and "users=" in ev["live row counts"]
    assert ev["scratch dropped"] == "yes" and "pg_restore" not in ev["restore time"]
    assert weekly.check("backup.restore")["value"] is not None  # the restore time, in seconds
    assert scratch_databases(box) == []


@pytest.mark.parametrize("fault", sorted(EXPECT))
def test_backup_fault_fails_its_checks(box: Sandbox, tmp_path: Path, fault: str):
    proc = box.cli("fault", fault)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        r = run(box, tmp_path, ALL, *ATTESTED)
        left = scratch_databases(box)
    finally:
        healed = box.cli("heal", timeout=120)
        assert healed.returncode == 0, healed.stdout + healed.stderr
    failed = r.failed()
    for check_id, words in EXPECT[fault].items():
        assert check_id in failed, f"{fault}: {check_id} did not fail; outcomes {r.outcomes()}"
        assert any(w in r.check(check_id)["summary"] for w in words.split("|")), f"{fault}: {r.text(check_id)}"
    assert failed == set(EXPECT[fault]), f"{fault}: unrelated checks failed: {failed - set(EXPECT[fault])}"
    assert r.record["verdict"] == "rollback"
    assert "Traceback" not in r.output
    # Dropped even when the restore failed half-way.
    assert left == []
    if fault == "backup_corrupt":
        assert "dropped scratch database" in r.check("backup.restore")["evidence"]["steps"]


def test_restore_refuses_the_target_database(box: Sandbox, tmp_path: Path):
    """A restore DSN that names the target database is refused before anything is created."""
    env_dir = tmp_path / "envs"
    env_dir.mkdir()
    text = (ROOT / "environments" / "local.toml").read_text()
    lines = [
        'dsn = "host=${state:db_host} port=${state:db_port} dbname=${state:db_name} user=${state:restore_db_user}"'
        if line.startswith('dsn = "host=${state:restore_db_host}')
        else line
        for line in text.splitlines()
    ]
    assert lines != text.splitlines()
    (env_dir / "local.toml").write_text("\n".join(lines) + "\n")
    ours = Sandbox(box.folder, {**box.env, "POSTDEPLOY_ENV_DIR": str(env_dir)})
    r = ours.run_suite(tmp_path / "reports", FILES[0], marks="weekly")
    assert r.outcomes() == {"backup.restore": "failed"}
    assert "refused: the restore DSN points at the target database" in r.check("backup.restore")["summary"]
    assert scratch_databases(box) == []


def test_plain_sql_backup_is_read_and_restored_through_psql(box: Sandbox, tmp_path: Path):
    """A gzipped plain-SQL pg_dump (the other format met in the wild), newest in the folder."""
    import gzip
    import time

    from postdeploy.sources.backupfiles import pg_bin

    st = box.state()
    password = (box.folder / "secrets" / "db_password").read_text().strip()
    dump = subprocess.run(
        [
            pg_bin("", "pg_dump"),
            "--format=plain",
            "-h",
            st["db_host"],
            "-p",
            str(st["db_port"]),
            "-U",
            st["db_user"],
            st["db_name"],
        ],
        env={"PATH": "/usr/bin:/bin", "PGPASSWORD": password},
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(time.time() + 2))
    plain = Path(st["backup_dir"]) / f"amani_backup_{stamp}.sql.gz"
    plain.write_bytes(gzip.compress(dump))
    try:
        r = run(box, tmp_path, "pre_deploy or weekly", *ATTESTED)
    finally:
        plain.unlink()
    assert "gzipped plain SQL" in r.check("backup.fresh")["summary"], r.text("backup.fresh")
    restore = r.check("backup.restore")
    assert restore["outcome"] == "passed", r.text("backup.restore")
    assert plain.name in restore["summary"] and "gzipped plain SQL" in restore["evidence"]["steps"]
    assert scratch_databases(box) == []
