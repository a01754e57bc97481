"""Weekly, item 28: database growth rate and disk / database fill projection."""

from __future__ import annotations

import pytest

from postdeploy.checks import capacity
from postdeploy.sources.sizehistory import history_path

pytestmark = pytest.mark.weekly


@pytest.mark.checklist(28, "capacity")
@pytest.mark.severity("major")
def test_capacity(request, target, history, check):
    """Neither the disk nor the database is projected to fill within 30 days; growth rates attached."""
    prom = request.getfixturevalue("prom") if target.prometheus is not None else None
    db = request.getfixturevalue("db") if target.database is not None else None
    path = history_path(target.capacity.history_file, history.env_dir)
    check.judge(capacity.capacity(prom, db, target.capacity, target.name, path))
