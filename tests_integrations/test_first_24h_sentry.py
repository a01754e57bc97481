"""First 24 hours, item 21: new error types in Sentry since the deploy, and their frequency."""

from __future__ import annotations

import pytest

from postdeploy.checks import sentry as sentry_checks

pytestmark = pytest.mark.first_24h


@pytest.mark.checklist(21, "sentry.review")
@pytest.mark.severity("major")
def test_sentry_review(sentry, target, deployment, check):
    """No error type first seen since the deploy (unknown before it) above the frequency bound."""
    check.judge(sentry_checks.review(sentry, deployment.deployed_at, target.sentry_review))
