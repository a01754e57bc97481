"""Pre-deployment P4: the team is notified of the deploy (Slack incoming webhook, opt-in)."""

from __future__ import annotations

import pytest

from postdeploy.checks import notify

pytestmark = pytest.mark.pre_deploy


@pytest.mark.checklist("P4", "notify.team")
@pytest.mark.severity("minor")
def test_team_notified(target, check):
    """The deploy notice reaches the team's Slack channel (skipped when [slack] is not configured)."""
    check.judge(notify.notify_team(target))
