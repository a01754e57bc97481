"""Manual items: pending until a person attests them (`--attest ID="who: note"` or `--attestations FILE`)."""

from __future__ import annotations

import pytest

from postdeploy.run import attest


@pytest.mark.pre_deploy
@pytest.mark.checklist("P3", "smoke.manual")
@pytest.mark.severity("minor")
def test_manual_smoke(check):
    """Manual smoke tests of the release were done on staging."""
    attest.judge(check)


@pytest.mark.pre_deploy
@pytest.mark.checklist("P4", "team.communicated")
@pytest.mark.severity("minor")
def test_team_communicated(check):
    """The team and stakeholders were told about the deployment."""
    attest.judge(check)


@pytest.mark.first_hour
@pytest.mark.checklist(17, "support.channels")
@pytest.mark.severity("minor")
def test_support_channels(check):
    """Support channels reviewed: no user complaints about the release."""
    attest.judge(check)


@pytest.mark.first_hour
@pytest.mark.checklist(18, "analytics.reviewed")
@pytest.mark.severity("minor")
def test_analytics_reviewed(check):
    """User actions reviewed where they are not measurable from metrics."""
    attest.judge(check)
