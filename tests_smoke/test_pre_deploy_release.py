"""Pre-deployment: the change set is recorded (P2), staging passed (P3), a rollback target exists (P4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from postdeploy.checks import backups, release
from postdeploy.run.pastruns import History

pytestmark = pytest.mark.pre_deploy


@pytest.mark.checklist("P2", "changes.recorded")
@pytest.mark.severity("minor")
def test_changes_recorded(target, history, check):
    """`git log --oneline -10` and the diff stat of the release ref go into the record."""
    previous = backups.last_good_release(history, target.expected.version)
    check.judge(release.changes_recorded(target.changes, target.expected, (previous or {}).get("commit", "")))


@pytest.mark.checklist("P3", "staging.passed")
@pytest.mark.severity("major")
def test_staging_passed(target, history, check):
    """The newest staging record for this version has the verdict success."""
    base = Path(target.staging.reports_dir) if target.staging.reports_dir else history.env_dir.parent
    staging = History(base / target.staging.env, history.current)
    check.judge(release.staging_passed(staging, target.expected.version, target.staging))


@pytest.mark.checklist("P4", "rollback.ready")
@pytest.mark.severity("major")
def test_rollback_ready(target, history, check):
    """The previous successful version is known from the records, and a backup is present."""
    check.judge(backups.rollback_ready(history, target.expected.version, target.backups))
