"""First 15 minutes, items 8-10: the critical user flows work end to end."""

from __future__ import annotations

import pytest

from postdeploy.checks import smoke

pytestmark = pytest.mark.first15


@pytest.mark.checklist(8, "auth.login")
@pytest.mark.depends_on("service")
@pytest.mark.severity("critical")
def test_login(login, check):
    """The synthetic user logs in (once per run; the token is reused by the checks below)."""
    check.judge(smoke.check_login(login))


@pytest.mark.checklist(9, "db.read")
@pytest.mark.depends_on("login")
@pytest.mark.severity("critical")
def test_database_read_through_api(api, check):
    """An authenticated read that goes to the database: the project list."""
    check.judge(smoke.check_list(api, api.cfg.projects_path, check.id, "project list"))


@pytest.mark.checklist(10, "business.flow")
@pytest.mark.depends_on("login")
@pytest.mark.severity("critical")
def test_business_read(api, check):
    """The key business operation, read variant: the escrow transactions list."""
    check.judge(smoke.check_list(api, api.cfg.business_path, check.id, "escrow transactions"))


@pytest.mark.checklist(10, "business.flow.write")
@pytest.mark.depends_on("login")
@pytest.mark.severity("critical")
@pytest.mark.writes
def test_business_write(api, check):
    """The key business operation, write variant: create a record and delete it (--allow-writes only)."""
    check.judge(smoke.write_flow(api))
