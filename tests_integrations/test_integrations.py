"""First 24 hours, item 24: payment provider, mail server and other external APIs answer (no money, no mail)."""

from __future__ import annotations

import pytest

from postdeploy.checks.integrations import integrations

pytestmark = pytest.mark.first_24h


@pytest.mark.checklist(24, "integrations")
@pytest.mark.severity("major")
def test_integrations(target, check):
    """FinCra authenticates a read-only request; SMTP answers EHLO (STARTTLS, AUTH); other APIs answer."""
    check.judge(integrations(target.integrations, target.path))
