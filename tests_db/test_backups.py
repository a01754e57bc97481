"""Backups: fresh before a deploy (P1), completed today (item 25), really restorable (item 30)."""

from __future__ import annotations

import pytest

from postdeploy.checks import backups


@pytest.mark.pre_deploy
@pytest.mark.checklist("P1", "backup.fresh")
@pytest.mark.severity("critical")
def test_backup_fresh(target, check):
    """The newest backup is younger than 60 minutes and reads back whole."""
    check.judge(backups.newest_readable(target.backups, target.backups.max_age_pre_deploy, check.id))


@pytest.mark.daily
@pytest.mark.checklist(25, "backup.daily")
@pytest.mark.severity("critical")
def test_backup_daily(target, check):
    """Last night's backup completed: one younger than 24 hours that reads back."""
    check.judge(backups.newest_readable(target.backups, target.backups.max_age_daily, check.id))


@pytest.mark.weekly
@pytest.mark.checklist(30, "backup.restore")
@pytest.mark.severity("critical")
def test_backup_restore(target, check):
    """The newest backup restores into a scratch database on the restore server, which is then dropped."""
    check.judge(backups.restore_test(target.backups, target.restore, target.database))
