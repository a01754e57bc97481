"""Backups: fresh before a deploy (P1), completed today (item 25), really restorable (item 30)."""

from __future__ import annotations

import pytest

from postdeploy.checks import backups
from postdeploy.results import skipped


def _not_configured(target, section: str, what: str):
    return skipped(f"not configured: add [{section}] {what} to {target.path}")


@pytest.mark.pre_deploy
@pytest.mark.checklist("P1", "backup.fresh")
@pytest.mark.severity("critical")
def test_backup_fresh(target, check):
    """The newest backup is younger than 60 minutes and reads back whole."""
    if target.backups is None:
        check.judge(_not_configured(target, "backups", "dir"))
    check.judge(backups.newest_readable(target.backups, target.backups.max_age_pre_deploy, "backup.fresh"))


@pytest.mark.daily
@pytest.mark.checklist(25, "backup.daily")
@pytest.mark.severity("critical")
def test_backup_daily(target, check):
    """Last night's backup completed: one younger than 24 hours that reads back."""
    if target.backups is None:
        check.judge(_not_configured(target, "backups", "dir"))
    check.judge(backups.newest_readable(target.backups, target.backups.max_age_daily, "backup.daily"))


@pytest.mark.weekly
@pytest.mark.checklist(30, "backup.restore")
@pytest.mark.severity("critical")
def test_backup_restore(target, check):
    """The newest backup restores into a scratch database on the restore server, which is then dropped."""
    if target.backups is None:
        check.judge(_not_configured(target, "backups", "dir"))
    if target.restore is None:
        check.judge(_not_configured(target, "restore", "dsn and password_env (a role with CREATEDB)"))
    check.judge(backups.restore_test(target.backups, target.restore, target.database))
