"""Security smoke: certificate, HTTPS redirect, security headers, leak-free error bodies.

The guide names "security vulnerability" as a rollback reason without a check for it;
these close that gap with requests that cannot change state.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from postdeploy.catalog import advice
from postdeploy.config import Security
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result, failed, from_problems, passed, unreachable
from postdeploy.sources.apiclient import ApiClient
from postdeploy.sources.httpjson import JsonClient
from postdeploy.sources.tlsprobe import probe

ADVICE_TLS = advice("tls.cert")
ADVICE_REDIRECT = advice("tls.redirect")
ADVICE_HEADERS = advice("headers.security")
ADVICE_LEAK = advice("errors.no_leak")

# What must never appear in an error body a client can see.
LEAK_PATTERNS = {
    "a Python traceback": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
    "a source file path": re.compile(r"(?:/(?:usr|app|home|opt|srv|var|root|site-packages)/\S+\.py)|\b\w+\.py\b:\d+"),
    "an SQL statement": re.compile(
        r"\b(?:SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I | re.S
    ),
    "a database driver error": re.compile(r"psycopg|sqlalchemy|asyncpg|OperationalError|ProgrammingError", re.I),
    "a connection string": re.compile(r"postgres(?:ql)?(?:\+\w+)?://", re.I),
}


def https_url(base_url: str) -> bool:
    return urlsplit(base_url).scheme == "https"


def check_certificate(base_url: str, ca_bundle: str, cfg: Security, timeout: float) -> Result:
    """The certificate of the public URL validates for its host and expires in more than N days."""
    threshold = f"valid for the host, > {cfg.cert_min_days} days left"
    try:
        cert = probe(base_url, ca_bundle, timeout)
    except TargetError as exc:
        return unreachable(str(exc), threshold=threshold, advice=ADVICE_TLS)
    where = f"{cert.host}:{cert.port}"
    evidence = {"host": where, "CA": ca_bundle or "system store", "subject": cert.subject, "issuer": cert.issuer}
    if not cert.valid:
        return failed(
            f"certificate of {where} is not valid: {cert.error}",
            value="invalid",
            threshold=threshold,
            evidence=evidence,
            advice=ADVICE_TLS,
        )
    days = cert.days_left or 0.0
    evidence["expires in"] = f"{days:.1f} days"
    if days <= cfg.cert_min_days:
        return failed(
            f"certificate of {where} expires in {days:.1f} days (bound {cfg.cert_min_days})",
            value=round(days, 1),
            threshold=threshold,
            evidence=evidence,
            advice=ADVICE_TLS,
            severity="major",
        )
    return passed(
        f"certificate of {where} valid, expires in {days:.0f} days",
        value=round(days, 1),
        threshold=threshold,
        evidence=evidence,
    )


def check_certificate_warning(base_url: str, ca_bundle: str, cfg: Security, timeout: float) -> Result:
    """The daily early warning: fewer than `cert_warn_days` days left (recorded, never decisive)."""
    try:
        cert = probe(base_url, ca_bundle, timeout)
    except TargetError as exc:
        return unreachable(str(exc), advice=ADVICE_TLS)
    days = cert.days_left if cert.valid and cert.days_left is not None else 0.0
    threshold = f"> {cfg.cert_warn_days} days left"
    if days <= cfg.cert_warn_days:
        return failed(
            f"certificate of {cert.host} expires in {days:.1f} days: plan the renewal",
            value=round(days, 1),
            threshold=threshold,
            advice=ADVICE_TLS,
        )
    return passed(f"certificate expires in {days:.0f} days", value=round(days, 1), threshold=threshold)


def plain_http_url(base_url: str, cfg: Security) -> str:
    if cfg.http_url:
        return cfg.http_url
    parts = urlsplit(base_url)
    return urlunsplit(("http", parts.hostname or "", parts.path, "", ""))


def check_redirect(base_url: str, cfg: Security, timeout: float) -> Result:
    """A plain-HTTP request is redirected (301/307/308) to the HTTPS URL."""
    url = plain_http_url(base_url, cfg).rstrip("/") + "/api/v1/ping"
    threshold = "301/307/308 to https://"
    try:
        with JsonClient("GET", timeout=timeout) as client:
            resp = client.get(url)
    except TargetError as exc:
        return unreachable(str(exc), threshold=threshold, advice=ADVICE_REDIRECT)
    location = resp.headers.get("location", "")
    evidence = {"url": url, "status": str(resp.status_code), "location": location or "(none)"}
    if resp.status_code in (301, 307, 308) and location.startswith("https://"):
        return passed(
            f"GET {url} -> {resp.status_code} {location}",
            value=resp.status_code,
            threshold=threshold,
            evidence=evidence,
        )
    why = "served over plain HTTP" if resp.status_code < 300 else f"answered {resp.status_code}"
    return failed(
        f"plain HTTP is not redirected to HTTPS: GET {url} {why}" + (f" (Location {location})" if location else ""),
        value=resp.status_code,
        threshold=threshold,
        evidence=evidence,
        advice=ADVICE_REDIRECT,
    )


def check_headers(api: ApiClient, cfg: Security) -> Result:
    """Security headers are present, HSTS over HTTPS, and CORS never allows any origin with credentials."""
    path = cfg.headers_path
    try:
        resp = api.get(path, headers={"Origin": cfg.cors_probe_origin})
    except TargetError as exc:
        return unreachable(str(exc), advice=ADVICE_HEADERS)
    problems = []
    for name, want in cfg.headers.items():
        got = resp.headers.get(name)
        if got is None:
            problems.append(f"{name} missing")
        elif want and got.strip().lower() != want.lower():
            problems.append(f"{name} is {got!r}, expected {want!r}")
    if cfg.hsts and https_url(api.cfg.base_url) and "max-age" not in resp.headers.get("strict-transport-security", ""):
        problems.append("Strict-Transport-Security missing")
    origin = resp.headers.get("access-control-allow-origin", "")
    credentials = resp.headers.get("access-control-allow-credentials", "").lower() == "true"
    if credentials and origin in ("*", cfg.cors_probe_origin):
        problems.append(f"CORS allows {'any origin' if origin == '*' else 'an arbitrary origin'} with credentials")
    shown = {
        k: resp.headers.get(k, "(missing)")
        for k in [*cfg.headers, "Strict-Transport-Security", "Access-Control-Allow-Origin"]
    }
    evidence = {"url": api.url(path), **shown}
    return from_problems(
        problems,
        "security headers",
        f"security headers present on {api.url(path)}",
        evidence=evidence,
        advice=ADVICE_HEADERS,
    )


def find_leaks(text: str) -> list[str]:
    """Return what an error body leaks: tracebacks, paths, SQL, driver errors, DSNs, known secrets."""
    found = [name for name, pattern in LEAK_PATTERNS.items() if pattern.search(text)]
    if redact(text) != text and "***" not in text:
        found.append("a secret or credential")
    return found


def _envelope_problem(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return "the body is not JSON"
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not {"code", "message"} <= set(err):
        return "the body is not the error envelope {error: {code, message, status, path}}"
    return ""


def check_error_bodies(api: ApiClient, cfg: Security) -> Result:
    """A 404 and a malformed JSON body get the error envelope and leak nothing."""
    probes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", cfg.not_found_path, {}),
        ("POST", api.cfg.login_path, {"content": b'{"email": ', "headers": {"Content-Type": "application/json"}}),
    ]
    problems, evidence = [], {}
    for method, path, kwargs in probes:
        try:
            resp = api.request(method, path, **kwargs)
        except TargetError as exc:
            problems.append(str(exc))
            continue
        where = f"{method} {api.url(path)}"
        evidence[where] = f"{resp.status_code} {redact(resp.text[:160])!r}"
        if resp.status_code >= 500:
            problems.append(f"{where} answered {resp.status_code} (a server error for a client mistake)")
        leaks = find_leaks(resp.text)
        if leaks:
            problems.append(f"{where} ({resp.status_code}) leaks " + ", ".join(leaks))
        envelope = _envelope_problem(resp)
        if envelope:
            problems.append(f"{where} ({resp.status_code}): {envelope}")
    return from_problems(
        problems,
        "error bodies",
        "404 and malformed-body errors use the envelope and leak nothing",
        evidence=evidence,
        advice=ADVICE_LEAK,
    )
