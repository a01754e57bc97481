"""The clients against the sandbox's real servers: read-only database, Prometheus "no data"."""

from __future__ import annotations

import psycopg
import pytest

from postdeploy.config import load_environment
from postdeploy.core.errors import BadResponse
from postdeploy.sources.db import connect
from postdeploy.sources.promql import PromClient
from sandboxrun import ROOT, Sandbox


@pytest.fixture
def local_env(box: Sandbox, monkeypatch):
    monkeypatch.setenv("POSTDEPLOY_SANDBOX_DIR", str(box.folder))
    return load_environment("local", ROOT)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO projects (id, title) VALUES (gen_random_uuid(), 'x')",
        "UPDATE users SET full_name = 'x'",
        "CREATE TABLE postdeploy_probe (id int)",
        "SET default_transaction_read_only = off; INSERT INTO projects (id, title) VALUES (gen_random_uuid(), 'x')",
        "SET TRANSACTION READ WRITE; DELETE FROM projects",
    ],
)
def test_database_session_cannot_write(local_env, statement):
    conn = connect(local_env.database)
    try:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(statement)
        assert isinstance(
            info.value,
            psycopg.errors.ReadOnlySqlTransaction
            | psycopg.errors.InsufficientPrivilege
            | psycopg.errors.ActiveSqlTransaction,
        ), info.value
    finally:
        conn.close()


def test_database_session_has_a_statement_timeout_and_a_name(local_env):
    conn = connect(local_env.database)
    try:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "3s"
        assert conn.execute("SELECT current_setting('application_name')").fetchone()[0] == "postdeploy"
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(10)")
    finally:
        conn.close()


def test_prometheus_no_data_is_none_not_zero(local_env):
    prom = PromClient(local_env.prometheus)
    try:
        assert prom.value(f'up{{job="{local_env.prometheus.job}"}}') == 1.0
        assert prom.value('up{job="no-such-job"}') is None
        assert prom.value("vector(0)") == 0.0
        assert prom.value("0/0") is None  # NaN is no data
        with pytest.raises(BadResponse, match="bad_data"):
            prom.query("rate(")
        names = {r["name"] for g in prom.rules() for r in g["rules"]}
        assert {"HighErrorRate", "ApplicationDown"} <= names
    finally:
        prom.close()
