"""Backups, the release checks and attestations without a sandbox: format sniffing, newest
selection, same-database refusal, staging and rollback records, attestation parsing."""

from __future__ import annotations

import gzip
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postdeploy.checks import backups as cb
from postdeploy.checks import release
from postdeploy.config import Backups, Changes, Database, Expected, Restore, Staging
from postdeploy.outputs import signoff
from postdeploy.run import attest, verdict
from postdeploy.run.pastruns import History
from postdeploy.sources.backupfiles import BackupError, Format, list_backups, read_back, sniff_bytes, taken_at
from postdeploy.sources.restore import RestoreRefused, RestoreReport, compare, refuse_same, scratch_name, where

PLAIN = b"--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\nCREATE TABLE t (id int);\n"
PLAIN_END = b"\n--\n-- PostgreSQL database dump complete\n--\n\n"
CUSTOM = b"PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01" + bytes(range(256))


# -- format by content ------------------------------------------------------------------------
# gzip with mtime=0: the same bytes in every process, so xdist workers collect the same test ids.
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (CUSTOM, Format("custom", False)),
        (gzip.compress(CUSTOM, mtime=0), Format("custom", True)),
        (PLAIN, Format("plain", False)),
        (gzip.compress(PLAIN, mtime=0), Format("plain", True)),
        (b"CREATE TABLE x (id int);", Format("plain", False)),
        (b"\x00\x01\x02garbage", Format("unknown", False)),
        (gzip.compress(b"\x89PNG\r\n\x1a\n\x00\x00", mtime=0), Format("unknown", True)),
        (b"\x1f\x8bnot really gzip", Format("unknown", True)),
        (b"", Format("unknown", False)),
        (b"hello world, this is prose", Format("unknown", False)),
    ],
)
def test_format_is_decided_by_content(content: bytes, expected: Format) -> None:
    assert sniff_bytes(content) == expected


def test_format_ignores_the_name(tmp_path: Path) -> None:
    # The reference service's .sql.gz holds a custom-format dump; a .dump may hold SQL.
    misleading = tmp_path / "amani_backup_20261127_010000.sql.gz"
    misleading.write_bytes(gzip.compress(CUSTOM))
    other = tmp_path / "x.dump"
    other.write_bytes(PLAIN + PLAIN_END)
    assert str(sniff_bytes(misleading.read_bytes())) == "gzipped custom-format dump"
    assert read_back(other).fmt == Format("plain", False)


@given(st.binary(max_size=300))
def test_sniffer_never_raises_and_gzip_is_transparent(data: bytes) -> None:
    fmt = sniff_bytes(data)
    assert fmt.kind in ("custom", "plain", "unknown")
    wrapped = sniff_bytes(gzip.compress(data))
    assert wrapped.gzipped and wrapped.kind == fmt.kind


# PostgreSQL text never holds NUL; a NUL byte makes content binary.
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200))
def test_sql_dump_prefix_is_plain_whatever_follows(tail: str) -> None:
    assert sniff_bytes(PLAIN + tail.encode()).kind == "plain"


# -- reading back -----------------------------------------------------------------------------
def test_plain_sql_truncated_is_reported(tmp_path: Path) -> None:
    whole = tmp_path / "whole.sql.gz"
    whole.write_bytes(gzip.compress(PLAIN + PLAIN_END))
    assert read_back(whole).bytes_read == len(PLAIN + PLAIN_END)
    cut = tmp_path / "cut.sql"
    cut.write_bytes(PLAIN)
    with pytest.raises(BackupError, match="truncated: no '-- PostgreSQL database dump complete'"):
        read_back(cut)


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    data = gzip.compress(PLAIN + os.urandom(20000).hex().encode() + PLAIN_END)
    cut = tmp_path / "cut.sql.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackupError, match="gzip stream is truncated"):
        read_back(cut)


def test_garbage_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "amani_backup_20261127_010000.sql.gz"
    junk.write_bytes(b"\x00\x01 not a dump")
    with pytest.raises(BackupError, match="not a recognised dump"):
        read_back(junk)


# -- newest selection -------------------------------------------------------------------------
def test_newest_by_name_stamp_then_mtime(tmp_path: Path) -> None:
    old = tmp_path / "amani_backup_20261126_230000.sql.gz"
    new = tmp_path / "amani_backup_20261127_010000.sql.gz"
    for p in (new, old):
        p.write_bytes(b"x")
    # The older file was touched last: the name's stamp still decides.
    os.utime(new, (time.time() - 7200, time.time() - 7200))
    unnamed = tmp_path / "manual.dump"
    unnamed.write_bytes(b"x")
    os.utime(unnamed, (0, 0))
    (tmp_path / ".partial.tmp").write_bytes(b"x")
    found = list_backups(tmp_path)
    assert [b.path.name for b in found] == [new.name, old.name, unnamed.name]
    assert found[0].taken_source == "name" and found[2].taken_source == "mtime"
    assert [b.path.name for b in list_backups(tmp_path, "amani_backup_*")] == [new.name, old.name]


def test_name_stamp_in_a_local_zone() -> None:
    when, source = taken_at(Path("amani_backup_20261127_030000.sql.gz"), 0, "Africa/Nairobi")
    assert (when, source) == (datetime(2026, 11, 27, 0, 0, tzinfo=UTC), "name")
    when, source = taken_at(Path("amani_backup_20261399_999999.sql.gz"), 86400, "UTC")
    assert source == "mtime" and when == datetime(1970, 1, 2, tzinfo=UTC)


def test_folder_problems_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        list_backups(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BackupError, match="is not a folder"):
        list_backups(tmp_path / "file")


def test_freshness_bound_and_empty_folder(tmp_path: Path) -> None:
    cfg = Backups(dir=str(tmp_path))
    empty = cb.newest_readable(cfg, 3600, "backup.fresh")
    assert empty.outcome == "failed" and "no backup in" in empty.summary
    stamp = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y%m%d_%H%M%S")
    (tmp_path / f"amani_backup_{stamp}.sql.gz").write_bytes(gzip.compress(PLAIN + PLAIN_END))
    stale = cb.newest_readable(cfg, 3600, "backup.fresh")
    assert stale.outcome == "failed" and " is 3h" in stale.summary and "bound 1h" in stale.summary
    assert cb.newest_readable(cfg, 86400, "backup.daily").outcome == "passed"


# -- the restore's safety ---------------------------------------------------------------------
TARGET = "host=db.internal port=5432 dbname=amani user=postdeploy_ro"


@pytest.mark.parametrize(
    "restore_dsn",
    [
        "host=db.internal port=5432 dbname=amani user=postdeploy_restore",
        "postgresql://postdeploy_restore@db.internal/amani",
        "host=DB.internal dbname=amani user=other",
    ],
)
def test_restore_refuses_the_target_database(restore_dsn: str) -> None:
    with pytest.raises(RestoreRefused, match="points at the target database"):
        refuse_same(TARGET, restore_dsn, "postdeploy_restore_1")


def test_restore_refuses_a_scratch_named_like_the_target() -> None:
    with pytest.raises(RestoreRefused, match="scratch database amani would be the target"):
        refuse_same(TARGET, "host=db.internal dbname=postgres user=r", "amani")


def test_restore_allows_another_database_or_server() -> None:
    refuse_same(TARGET, "host=db.internal dbname=postgres user=r", "postdeploy_restore_1")
    refuse_same(TARGET, "host=restore.internal dbname=amani user=r", "postdeploy_restore_1")
    refuse_same("host=127.0.0.1 port=5433 dbname=amani", "host=localhost port=5432 dbname=amani", "s")
    assert where("host=localhost dbname=x") == where("host=127.0.0.1 port=5432 dbname=x")


def test_scratch_names_are_safe_identifiers() -> None:
    name = scratch_name("Post-Deploy Restore!" * 5)
    assert len(name) <= 63 and name == name.lower() and all(c.isalnum() or c == "_" for c in name)


def test_restored_counts_far_from_the_source_are_problems() -> None:
    report = RestoreReport("s", "srv", counts={"users": 5, "projects": 100})
    compare(report, {"users": 6, "projects": 1000, "other": 3}, 0.5)
    assert report.problems == ["table projects: 100 rows restored vs 1000 in the source (differs by more than 50%)"]


# -- records: staging gate and rollback target ------------------------------------------------
def write_record(base: Path, env: str, name: str, **data: object) -> Path:
    folder = base / env / name
    folder.mkdir(parents=True)
    record = {"env": env, "phase": "first15", "complete": True, "verdict": "success", "version": "1.4.2", **data}
    (folder / "record.json").write_text(json.dumps(record))
    return folder


def test_staging_gate(tmp_path: Path) -> None:
    cfg = Staging(env="staging")
    hist = History(tmp_path / "staging")
    assert "no staging record for version 1.4.2" in release.staging_passed(hist, "1.4.2", cfg).summary
    write_record(tmp_path, "staging", "20261126T100000Z-first15", version="1.4.1")
    missing = release.staging_passed(hist, "1.4.2", cfg)
    assert (
        missing.outcome == "failed" and "newest staging record found" in missing.summary and "1.4.1" in missing.summary
    )
    write_record(tmp_path, "staging", "20261127T010000Z-first15")
    assert release.staging_passed(hist, "1.4.2", cfg).outcome == "passed"
    bad = write_record(
        tmp_path,
        "staging",
        "20261127T020000Z-first15",
        verdict="issues",
        verdict_reasons=["major check endpoints failed"],
    )
    failed = release.staging_passed(hist, "1.4.2", cfg)
    assert failed.outcome == "failed" and str(bad) in failed.summary and "verdict issues" in failed.summary
    # A pre-deploy record is no staging verification.
    write_record(tmp_path, "staging", "20261127T030000Z-pre_deploy", phase="pre_deploy")
    assert release.staging_passed(hist, "1.4.2", cfg).outcome == "failed"
    assert "expected version unknown" in release.staging_passed(hist, "", cfg).summary


def test_rollback_target_and_backup(tmp_path: Path) -> None:
    backups_dir = tmp_path / "backups"
    backups_dir.mkdir()
    hist = History(tmp_path / "reports" / "prod")
    cfg = Backups(dir=str(backups_dir))
    r = cb.rollback_ready(hist, "1.4.2", cfg)
    assert (
        r.outcome == "failed"
        and "no earlier successful post-deploy record" in r.summary
        and "no backup in" in r.summary
    )
    write_record(tmp_path / "reports", "prod", "20261120T000000Z-first15", version="1.4.1", commit="4d2e8a1b")
    write_record(tmp_path / "reports", "prod", "20261127T000000Z-pre_deploy", version="1.4.0", phase="pre_deploy")
    (backups_dir / "amani_backup_20261127_000000.sql.gz").write_bytes(b"x")
    r = cb.rollback_ready(hist, "1.4.2", cfg)
    assert r.outcome == "passed" and "1.4.1" in r.summary


def test_changes_recorded_in_this_checkout() -> None:
    root = str(Path(__file__).resolve().parents[2])
    r = release.changes_recorded(Changes(repo=root), Expected("1.4.2", ""))
    assert r.outcome == "failed" and "expected commit unknown" in r.summary
    assert len(r.evidence["git log --oneline -10"].splitlines()) == 10
    head = release.git(root, "rev-parse", "HEAD").strip()
    ok = release.changes_recorded(Changes(repo=root), Expected("1.4.2", head[:12]))
    assert ok.outcome == "passed" and ok.value == head and "diff stat" in ok.evidence
    wrong = release.changes_recorded(Changes(repo=root), Expected("1.4.2", "0" * 40))
    assert wrong.outcome == "failed" and "not the expected commit" in wrong.summary
    gone = release.changes_recorded(Changes(repo=root, ref="no-such-ref"), Expected("1", "2"))
    assert gone.outcome == "failed" and "no-such-ref" in gone.summary


# -- attestations -----------------------------------------------------------------------------
def test_attestation_parsing() -> None:
    a = attest.parse("support.channels=alice@amani: checked #support and the inbox: no complaints")
    assert (a.id, a.who, a.note) == ("support.channels", "alice@amani", "checked #support and the inbox: no complaints")
    for bad in ("support.channels", "support.channels=alice", "support.channels=: note", "=a: b", "Bad Id=a: b"):
        with pytest.raises(attest.AttestationError):
            attest.parse(bad)


@given(
    who=st.text(
        alphabet=st.characters(blacklist_characters=":\n\r=", blacklist_categories=("Cs",)), min_size=1, max_size=30
    ),
    note=st.text(
        alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=60
    ),
)
def test_attestation_round_trip(who: str, note: str) -> None:
    text = f"team.communicated={who}: {note}"
    if not who.strip() or not note.strip():
        with pytest.raises(attest.AttestationError):
            attest.parse(text)
        return
    a = attest.parse(text)
    assert (a.who, a.note) == (who.strip(), note.strip())


def test_attestation_files_and_unknown_ids(tmp_path: Path) -> None:
    lines = tmp_path / "attest.txt"
    lines.write_text(
        "# who saw what\nsmoke.manual=bob: clicked through staging\n\nteam.communicated=carol: #releases\n"
    )
    js = tmp_path / "attest.json"
    js.write_text(json.dumps({"support.channels": {"who": "dan", "note": "no tickets"}}))
    found = attest.collect(["smoke.manual=erin: again"], [str(lines), str(js)])
    assert found["smoke.manual"].who == "erin" and found["support.channels"].note == "no tickets"
    with pytest.raises(attest.AttestationError, match="unknown manual item 'suport.channels'"):
        attest.collect(["suport.channels=a: b"], [])
    with pytest.raises(attest.AttestationError, match="cannot read attestation file"):
        attest.collect([], [str(tmp_path / "missing")])


def test_pending_attestation_is_never_success() -> None:
    checks = [
        {"id": "backup.fresh", "outcome": "passed", "severity": "critical"},
        {
            "id": "support.channels",
            "outcome": "skipped",
            "severity": "minor",
            "attestation": {"status": "pending", "what": "x"},
        },
    ]
    assert verdict.decide(checks) == ("issues", ["attestation pending: support.channels"])
    waiting = signoff.render({"checks": checks, "verdict": "issues"})
    assert (
        "[ ] PENDING ATTESTATION No user complaints" in waiting and "pending attestation: support.channels" in waiting
    )
    checks[1] = {
        "id": "support.channels",
        "outcome": "passed",
        "severity": "minor",
        "attestation": {"status": "attested", "who": "amy", "note": "ok"},
    }
    assert verdict.decide(checks) == ("success", [])
    md = signoff.render({"checks": checks, "verdict": "success"})
    assert "support.channels attested by amy: ok" in md


def test_restore_server_unreachable_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    (tmp_path / "amani_backup_20261127_010000.sql.gz").write_bytes(gzip.compress(PLAIN + PLAIN_END))
    restore = Restore(dsn=f"host=127.0.0.1 port={port} dbname=postgres user=r", connect_timeout=2.0)
    started = time.monotonic()
    r = cb.restore_test(Backups(dir=str(tmp_path)), restore, Database(dsn="host=db.internal dbname=amani"))
    assert time.monotonic() - started < 10
    assert r.outcome == "failed" and f"restore failed: restore server localhost:{port} db postgres" in r.summary
    assert r.evidence["scratch dropped"] == "never created" and "\n" not in r.summary


@given(
    st.lists(
        st.sampled_from(
            [
                b"SET x = 1;",
                b"CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public;",
                b"COMMENT ON EXTENSION pg_stat_statements IS 'x';",
                b"CREATE TABLE t (id int);",
                b"ALTER TABLE public.t OWNER TO amani;",
                b"GRANT SELECT ON TABLE public.t TO reporting;",
                b"",
            ]
        ),
        max_size=12,
    ),
    st.integers(1, 40),
)
def test_owner_acl_and_extension_lines_are_dropped_across_any_chunking(lines: list[bytes], size: int) -> None:
    from postdeploy.sources.restore import portable

    text = b"".join(line + b"\n" for line in lines)
    blocks = [text[i : i + size] for i in range(0, len(text), size)]
    out = b"".join(portable(iter(blocks), skip_extensions=True))
    dropped = (b"EXTENSION", b"OWNER TO", b"GRANT ")
    assert out == b"".join(line + b"\n" for line in lines if not any(d in line for d in dropped))
    assert b"EXTENSION" in b"".join(portable(iter(blocks), skip_extensions=False)) or b"EXTENSION" not in text


def test_bad_settings_are_one_line_failures(tmp_path: Path) -> None:
    (tmp_path / "amani_backup_20261127_010000.sql.gz").write_bytes(gzip.compress(CUSTOM))
    zone = cb.newest_readable(Backups(dir=str(tmp_path), name_timezone="Mars/Olympus"), 3600, "backup.fresh")
    assert zone.outcome == "failed" and "'Mars/Olympus' is not a known time zone" in zone.summary
    now = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    (tmp_path / f"amani_backup_{now}.sql.gz").write_bytes(gzip.compress(CUSTOM))
    nobin = cb.newest_readable(Backups(dir=str(tmp_path), pg_bin=str(tmp_path / "nope")), 3600, "backup.fresh")
    assert nobin.outcome == "failed" and "pg_restore not found in [backups] pg_bin" in nobin.summary


def test_use_list_that_hangs_is_a_one_line_backup_error(tmp_path):
    """`pg_restore --list` stuck past the timeout is a BackupError naming it, never a traceback."""
    from postdeploy.sources.restore import _use_list

    slow = tmp_path / "pg_restore"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(BackupError, match=r"pg_restore --list did not finish within 0.3s"):
        _use_list(str(slow), tmp_path / "backup.dump", 0.3, True)


def test_restore_without_the_live_database_is_inconclusive_not_passed(tmp_path: Path, monkeypatch) -> None:
    """Issue 11: the documented count comparison was skipped and the restore test still passed."""
    from postdeploy.sources import restore as rs

    def restored(archive, *, report, **kw):
        report.created, report.restore_seconds = True, 0.5

    def sane(dsn, password, scratch, tables, timeout, report):
        report.alembic, report.counts = "001_initial_schema", {"users": 5}

    def dropped(dsn, password, scratch, timeout, report):
        report.dropped = True

    monkeypatch.setattr(rs, "restore_into", restored)
    monkeypatch.setattr(rs, "sanity", sane)
    monkeypatch.setattr(rs, "drop", dropped)
    monkeypatch.setattr(
        cb, "source_counts", lambda db, tables: ({}, "source not reachable (refused): restored counts not compared")
    )
    (tmp_path / "amani_backup_20261127_010000.sql.gz").write_bytes(gzip.compress(PLAIN + PLAIN_END))
    restore = Restore(dsn="host=127.0.0.1 port=9 dbname=postgres user=r")
    r = cb.restore_test(Backups(dir=str(tmp_path)), restore, Database(dsn="host=db.internal dbname=amani"))
    assert r.outcome == "inconclusive", r
    assert "not compared with the live database: source not reachable" in r.summary
    monkeypatch.setattr(cb, "source_counts", lambda db, tables: ({"users": 5}, ""))
    assert cb.restore_test(Backups(dir=str(tmp_path)), restore, Database(dsn="host=db.internal dbname=amani")).ok
