"""First 24 hours, item 23: database size, the ten largest tables, growth since the previous record."""

from __future__ import annotations

import pytest

from postdeploy.checks import database
from postdeploy.sources.sizehistory import history_path

pytestmark = pytest.mark.first_24h


@pytest.mark.checklist(23, "db.size")
@pytest.mark.depends_on("database")
@pytest.mark.severity("minor")
def test_db_size(db, target, history, check):
    """Size and top-10 tables recorded (one line in history.jsonl); growth since the last record below the bound."""
    path = history_path(target.capacity.history_file, history.env_dir)
    check.judge(database.size(db, target.db_checks, target.name, path))
