"""Beyond the guide: security and contract smoke, with requests that cannot change state."""

from __future__ import annotations

import pytest

from postdeploy.checks import security, surface


def _https_only(target):
    if not security.https_url(target.api.base_url):
        pytest.skip(f"the API base URL of {target.path} is not https://: TLS checks need an HTTPS target")


@pytest.mark.first15
@pytest.mark.daily
@pytest.mark.checklist("S", "tls.cert")
@pytest.mark.depends_on("service")
@pytest.mark.severity("critical")
def test_certificate(target, check):
    """The certificate validates for the host (critical) and expires in more than 14 days (major)."""
    _https_only(target)
    check.judge(
        security.check_certificate(
            target.api.base_url, target.api.ca_bundle, target.security, target.api.connect_timeout
        )
    )


@pytest.mark.daily
@pytest.mark.checklist("S", "tls.cert.warning")
@pytest.mark.depends_on("service")
@pytest.mark.severity("minor")
def test_certificate_early_warning(target, check):
    """Daily: warn 30 days before the certificate expires (recorded, never decides the verdict)."""
    _https_only(target)
    check.judge(
        security.check_certificate_warning(
            target.api.base_url, target.api.ca_bundle, target.security, target.api.connect_timeout
        )
    )


@pytest.mark.first15
@pytest.mark.checklist("S", "tls.redirect")
@pytest.mark.depends_on("service")
@pytest.mark.severity("major")
def test_http_redirects_to_https(target, check):
    """Plain HTTP answers 301/307/308 with a Location on https://."""
    _https_only(target)
    check.judge(security.check_redirect(target.api.base_url, target.security, target.api.connect_timeout))


@pytest.mark.first15
@pytest.mark.checklist("S", "headers.security")
@pytest.mark.depends_on("service")
@pytest.mark.severity("major")
def test_security_headers(api, target, check):
    """X-Content-Type-Options, X-Frame-Options, HSTS over HTTPS; no CORS wildcard with credentials."""
    check.judge(security.check_headers(api, target.security))


@pytest.mark.first15
@pytest.mark.checklist("S", "errors.no_leak")
@pytest.mark.depends_on("service")
@pytest.mark.severity("critical")
def test_error_bodies_leak_nothing(api, target, check):
    """A 404 and a malformed JSON body get the error envelope: no traceback, SQL, path or secret."""
    check.judge(security.check_error_bodies(api, target.security))


@pytest.mark.first15
@pytest.mark.checklist("S", "api.surface")
@pytest.mark.depends_on("service")
@pytest.mark.severity("major")
def test_no_endpoint_vanished(api, target, history, check):
    """Every endpoint of the previous successful release is still in the OpenAPI document."""
    check.judge(surface.check_surface(api, target.security, history))
