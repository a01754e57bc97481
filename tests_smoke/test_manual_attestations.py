"""Manual items: pending until a person attests them (`--attest ID="who: note"` or `--attestations FILE`)."""

from __future__ import annotations

import pytest

from postdeploy import attest


@pytest.mark.pre_deploy
@pytest.mark.checklist("P3", "smoke.manual")
@pytest.mark.severity("minor")
def test_manual_smoke(request, check):
    """Manual smoke tests of the release were done on staging."""
    attest.judge(request.node, "smoke.manual", check)


@pytest.mark.pre_deploy
@pytest.mark.checklist("P4", "team.communicated")
@pytest.mark.severity("minor")
def test_team_communicated(request, check):
    """The team and stakeholders were told about the deployment."""
    attest.judge(request.node, "team.communicated", check)


@pytest.mark.first_hour
@pytest.mark.checklist(17, "support.channels")
@pytest.mark.severity("minor")
def test_support_channels(request, check):
    """Support channels reviewed: no user complaints about the release."""
    attest.judge(request.node, "support.channels", check)


@pytest.mark.first_hour
@pytest.mark.checklist(18, "analytics.reviewed")
@pytest.mark.severity("minor")
def test_analytics_reviewed(request, check):
    """User actions reviewed where they are not measurable from metrics."""
    attest.judge(request.node, "analytics.reviewed", check)
