"""First hour, items 12 and 15: connections vs the pool (two sources), slow and long-running queries."""

from __future__ import annotations

import pytest

from postdeploy.checks import database, windowed

pytestmark = pytest.mark.first_hour


@pytest.mark.checklist(12, "db.connections")
@pytest.mark.depends_on("database", "process")
@pytest.mark.severity("major")
def test_db_connections(prom, db, target, deployment, check):
    """db_connections_active and pg_stat_activity agree, within 5-20 and below 80 % of the pool; trend attached."""
    check.judge(windowed.db_connections(prom, db, target, deployment.deployed_at))


@pytest.mark.checklist(15, "db.slow_queries")
@pytest.mark.depends_on("database")
@pytest.mark.severity("major")
def test_db_slow_queries(db, target, check):
    """No statement in pg_stat_statements with a mean time above 1 s; the top 10 attached."""
    check.judge(database.slow_queries(db, target.db_checks))


@pytest.mark.checklist(15, "db.long_queries")
@pytest.mark.depends_on("database")
@pytest.mark.severity("major")
def test_db_long_queries(db, target, check):
    """No query active in pg_stat_activity for longer than the bound."""
    check.judge(database.long_queries(db, target.db_checks))
