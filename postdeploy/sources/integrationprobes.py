"""The external services the application depends on, each asked once without side effects.

- FinCra (payments): one documented read-only GET with the secret key in the `api-key`
  header (`/profile/business/me` by default: who the key belongs to). No money moves.
- SMTP (email): connect, EHLO, STARTTLS and AUTH when configured, then QUIT. No MAIL FROM,
  so no mail can be sent.
- Other HTTP APIs: a GET with the expected status.

Every probe returns a `Probe` (never raises for a target's fault), so one check can list all.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass

import httpx

from postdeploy.config import Fincra, Smtp
from postdeploy.core.errors import ConfigError, TargetError, TargetTimeout
from postdeploy.core.redaction import redact
from postdeploy.sources.httpjson import JsonClient, message_of, snippet, verify_with


@dataclass(frozen=True)
class Probe:
    """The outcome of asking one integration."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0

    def __repr__(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAILED'}: {self.detail} ({self.seconds * 1000:.0f} ms)"


def fincra_probe(cfg: Fincra, transport: httpx.BaseTransport | None = None) -> Probe:
    """Ask FinCra who the key belongs to; ok on 200 with `success: true`."""
    url = cfg.url.rstrip("/") + cfg.path
    started = time.monotonic()
    headers = {"api-key": cfg.api_key.reveal(), "Accept": "application/json"}
    try:
        with JsonClient("FinCra", timeout=cfg.timeout, transport=transport, headers=headers) as client:
            answer = client.get_json(url)
    except TargetError as exc:
        return Probe("payments (FinCra)", False, str(exc), time.monotonic() - started)
    took = time.monotonic() - started
    body = answer.body
    if answer.status in (401, 403):
        return Probe(
            "payments (FinCra)",
            False,
            f"GET {url} refused the api-key (HTTP {answer.status}: {message_of(body)}): check the secret key",
            took,
        )
    if answer.status != 200:
        return Probe("payments (FinCra)", False, f"GET {url} answered {answer.status}: {message_of(body)}", took)
    if not isinstance(body, dict) or body.get("success") is not True or not isinstance(body.get("data"), dict):
        return Probe(
            "payments (FinCra)",
            False,
            f"GET {url} answered 200 without FinCra's envelope (success, data): {snippet(str(body))!r}",
            took,
        )
    data = body["data"]
    who = data.get("name") or data.get("businessName") or data.get("id") or "?"
    return Probe("payments (FinCra)", True, f"GET {url} answered 200: authenticated as business {who!r}", took)


def smtp_probe(cfg: Smtp) -> Probe:
    """EHLO, then STARTTLS and AUTH when configured, then QUIT; never MAIL FROM."""
    host, port = cfg.address()
    where = f"SMTP {host}:{port}"
    started = time.monotonic()
    steps: list[str] = []

    def done(ok: bool, detail: str) -> Probe:
        return Probe("email (SMTP)", ok, redact(detail), time.monotonic() - started)

    try:
        context = verify_with(cfg.ca_bundle) if cfg.starttls else None
    except ConfigError as exc:
        return done(False, f"{where}: {exc}")
    try:
        with smtplib.SMTP(host, port, timeout=cfg.timeout) as smtp:
            code, _ = smtp.ehlo()
            if code != 250:
                return done(False, f"{where}: EHLO answered {code}")
            steps.append("EHLO 250")
            if cfg.starttls:
                if not smtp.has_extn("starttls"):
                    return done(False, f"{where}: STARTTLS is configured but the server does not offer it")
                # smtplib's own default context verifies nothing: always pass a verifying one.
                verifying = context if isinstance(context, ssl.SSLContext) else ssl.create_default_context()
                code, _ = smtp.starttls(context=verifying)
                smtp.ehlo()
                steps.append(f"STARTTLS {code}")
            if cfg.user:
                if cfg.password is None:
                    return done(False, f"{where}: smtp.user is set without a password (password_env/_file)")
                code, _ = smtp.login(cfg.user, cfg.password.reveal())
                steps.append(f"AUTH {code}")
    except smtplib.SMTPAuthenticationError as exc:
        return done(False, f"{where}: AUTH refused ({exc.smtp_code}): check smtp.user and its password")
    except smtplib.SMTPNotSupportedError:
        return done(False, f"{where}: AUTH is configured but the server offers no AUTH")
    except ssl.SSLError as exc:
        return done(False, f"{where}: STARTTLS handshake failed: {exc.reason or exc}")
    except TimeoutError:
        return done(False, f"{where}: no answer within {cfg.timeout:g}s")
    except smtplib.SMTPServerDisconnected as exc:
        return done(False, f"{where}: the server closed the connection ({exc or 'no greeting'})")
    except smtplib.SMTPException as exc:
        return done(False, f"{where}: {type(exc).__name__}: {exc}")
    except OSError as exc:
        return done(False, f"{where}: cannot connect: {exc.strerror or exc}")
    return done(True, f"{where}: " + ", ".join(steps) + ", QUIT (no mail sent)")


def parse_http_spec(spec: str) -> tuple[str, int | None]:
    """Split "URL" or "URL expect=STATUS" into the URL and the expected status (None: any 2xx)."""
    parts = spec.split()
    if not parts or "://" not in parts[0]:
        raise ConfigError(f"integrations.http: {spec!r} is not 'URL' or 'URL expect=STATUS'")
    expect = None
    for extra in parts[1:]:
        key, _, value = extra.partition("=")
        if key != "expect" or not value.isdigit():
            raise ConfigError(f"integrations.http: {spec!r}: unknown option {extra!r} (only expect=STATUS)")
        expect = int(value)
    return parts[0], expect


def http_probe(name: str, spec: str, timeout: float, ca_bundle: str = "") -> Probe:
    """GET one external API and compare the status with the expected one."""
    started = time.monotonic()
    try:
        url, expect = parse_http_spec(spec)
        with JsonClient("GET", timeout=timeout, verify=verify_with(ca_bundle)) as client:
            resp = client.get(url)
    except ConfigError as exc:
        return Probe(name, False, str(exc))
    except TargetTimeout as exc:
        return Probe(name, False, str(exc), timeout)
    except TargetError as exc:
        return Probe(name, False, str(exc))
    took = time.monotonic() - started
    ok = resp.status_code == expect if expect is not None else 200 <= resp.status_code < 300
    want = f"expected {expect}" if expect is not None else "expected 2xx"
    return Probe(name, ok, f"GET {redact(url)} answered {resp.status_code} ({want})", took)
