"""TLS handshakes with the public URL: is the chain valid for the host name, and until when."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from postdeploy.core.errors import TargetTimeout, TargetUnreachable


@dataclass(frozen=True)
class Certificate:
    """What one handshake showed: validity, expiry and who issued the certificate."""

    host: str
    port: int
    valid: bool
    error: str = ""
    not_after: float | None = None
    subject: str = ""
    issuer: str = ""

    @property
    def days_left(self) -> float | None:
        return None if self.not_after is None else (self.not_after - time.time()) / 86400


def _name(parts: object) -> str:
    try:
        return ", ".join(f"{k}={v}" for rdn in parts for k, v in rdn)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return ""


def probe(url: str, ca_bundle: str = "", timeout: float = 5.0) -> Certificate:
    """Handshake with the host of `url`, validating the chain and the host name."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = ssl.create_default_context(cafile=ca_bundle or None)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return Certificate(host, port, False, f"{exc.verify_message or exc.reason} ({exc.__class__.__name__})")
    except ssl.SSLError as exc:
        return Certificate(host, port, False, f"TLS handshake failed: {exc.reason or exc}")
    except TimeoutError:
        raise TargetTimeout(f"TLS {host}:{port}: no handshake within {timeout:g}s", target=url) from None
    except OSError as exc:
        raise TargetUnreachable(f"TLS {host}:{port}: cannot connect: {exc.strerror or exc}", target=url) from None
    raw_after = cert.get("notAfter")
    not_after = ssl.cert_time_to_seconds(raw_after) if isinstance(raw_after, str) else None
    return Certificate(host, port, True, "", not_after, _name(cert.get("subject", ())), _name(cert.get("issuer", ())))
