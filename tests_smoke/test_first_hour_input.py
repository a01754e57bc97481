"""Beyond the guide, first hour: malformed input gets a 4xx, never a 5xx or a hang."""

from __future__ import annotations

import pytest


@pytest.mark.first_hour
@pytest.mark.checklist("S", "input.robust")
@pytest.mark.depends_on("service")
@pytest.mark.severity("major")
def test_malformed_input_gets_4xx(api, target, check):
    """Hypothesis-generated malformed bodies, within the request budget, to side-effect-free endpoints."""
    # Imported here: hypothesis costs ~0.5 s to import, which other phases need not pay.
    from postdeploy.checks import robust

    check.judge(robust.check_robust(api, target.security.robust_endpoints, target.security.robust_budget))
