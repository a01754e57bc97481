"""The sandbox's own certificate authority and the app's server certificates, made at every `up`.

Files in ``<state dir>/tls/``: ``ca.pem`` (the CA, valid 10 years), ``server.pem`` (valid
90 days), ``server-expiring.pem`` (the cert_expiring fault's, valid 5 days) and their one
key ``server.key`` (0600). Both server certificates name ``IP:127.0.0.1`` and
``DNS:localhost``. The CA's private key exists only in memory while the two are signed:
nothing can sign another certificate with it afterwards, so trusting ``ca.pem`` trusts
exactly these two. Only the local suite trusts it, as a CA bundle (``ca_file`` in
state.json); it is never installed system-wide.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.common import state

CA_DAYS = 3650
SERVER_DAYS = 90
EXPIRING_DAYS = 5
# A little backdating, so that a client whose clock runs slightly behind still accepts them.
BACKDATE = dt.timedelta(minutes=5)
ORGANISATION = "Amani Escrow Sandbox"


@dataclass(frozen=True)
class Certificates:
    """Where the CA is and when each server certificate expires."""

    ca_file: Path
    server_not_after: dt.datetime
    expiring_not_after: dt.datetime


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Amani Sandbox Local CA"))
        .issuer_name(_name("Amani Sandbox Local CA"))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        # pathlen 0: this CA signs server certificates, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    days: int,
) -> x509.Certificate:
    # Everything a strict verifier (Python 3.13's VERIFY_X509_STRICT) asks of a leaf.
    return (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write(target: Path, data: bytes, mode: int) -> None:
    """Write through a rename; the file is created with its final mode, so a key is never readable by others."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, target)


def generate(paths: state.Paths) -> Certificates:
    """Make a new CA and both server certificates (EC P-256: milliseconds, not seconds)."""
    paths.tls_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _ca(ca_key, now)
    key = ec.generate_private_key(ec.SECP256R1())
    server = _server(ca, ca_key, key, now, SERVER_DAYS)
    expiring = _server(ca, ca_key, key, now, EXPIRING_DAYS)
    pem = serialization.Encoding.PEM
    _write(
        paths.server_key,
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        0o600,
    )
    _write(paths.ca_file, ca.public_bytes(pem), 0o644)
    _write(paths.server_cert, server.public_bytes(pem), 0o644)
    _write(paths.expiring_cert, expiring.public_bytes(pem), 0o644)
    return Certificates(paths.ca_file, server.not_valid_after_utc, expiring.not_valid_after_utc)
