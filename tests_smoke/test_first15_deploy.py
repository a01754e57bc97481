"""First 15 minutes, items 1-3: the release is running, is the right version, and is healthy."""

from __future__ import annotations

import pytest

from postdeploy.checks import smoke

pytestmark = pytest.mark.first15


# Every later phase starts by asking whether the release is alive (process and ping).
LIVENESS = (pytest.mark.first_hour, pytest.mark.first_24h, pytest.mark.daily, pytest.mark.weekly)


def liveness(fn):
    for mark in LIVENESS:
        fn = mark(fn)
    return fn


@liveness
@pytest.mark.checklist(1, "deploy.running")
@pytest.mark.severity("critical")
def test_release_is_running(deployment, check):
    """The container, pods or process of the release are up and not restarting."""
    check.judge(smoke.check_running(deployment.status, deployment.error, deployment.source))


@pytest.mark.checklist(1, "deploy.version")
@pytest.mark.depends_on("service")
@pytest.mark.severity("critical")
def test_expected_version_is_live(api, target, check):
    """The version and commit the service reports are the ones that were deployed."""
    check.judge(smoke.check_version(api, target.expected))


@liveness
@pytest.mark.checklist("1-3", "wait.ready")
@pytest.mark.depends_on("process")
@pytest.mark.severity("critical")
def test_release_becomes_ready(request, check):
    """The release answers its ping endpoint within the bound, before health and readiness are judged."""
    # Asked for after `check`: when the process is gone, the check is blocked without the bounded wait.
    check.judge(request.getfixturevalue("ready"))


@pytest.mark.checklist(2, "health")
@pytest.mark.depends_on("service")
@pytest.mark.severity("critical")
def test_health(request, api, check):
    """HTTP 200 and status healthy and every dependency healthy (the service answers 200 even when not)."""
    # `ready` asked for after `check`: a blocked check does not wait for the service.
    check.judge(smoke.check_health(api, request.getfixturevalue("ready")))


@pytest.mark.checklist(3, "readiness")
@pytest.mark.depends_on("service")
@pytest.mark.severity("critical")
def test_readiness(request, api, check):
    """The service reports itself ready, with every required table present."""
    check.judge(smoke.check_readiness(api, request.getfixturevalue("ready")))
