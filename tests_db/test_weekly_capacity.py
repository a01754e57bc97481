"""Weekly, item 28: database growth rate and disk / database fill projection."""

from __future__ import annotations

import pytest

from postdeploy.checks import capacity

pytestmark = pytest.mark.weekly


@pytest.mark.checklist(28, "capacity")
@pytest.mark.severity("major")
def test_capacity(target, history, check):
    """Neither the disk nor the database is projected to fill within 30 days; growth rates attached."""
    check.judge(capacity.weekly(target, check.getfixturevalue, history))
