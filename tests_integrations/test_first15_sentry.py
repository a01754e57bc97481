"""First 15 minutes, item 7: no new critical errors in Sentry."""

from __future__ import annotations

import pytest

from postdeploy.checks import sentry as sentry_checks

pytestmark = pytest.mark.first15


@pytest.mark.checklist(7, "sentry.new")
@pytest.mark.severity("major")
def test_no_new_sentry_issues(sentry, target, deployment, check):
    """No unresolved issue of level error or fatal first seen since the deploy (within the window)."""
    check.judge(sentry_checks.new_issues(sentry, deployment.deployed_at, target.windows.first15))
