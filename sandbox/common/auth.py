"""Password hashes and signed tokens, with the standard library only.

User passwords are stored as PBKDF2-SHA256 hashes, access tokens are HS256 JWTs (what the
real service issues), and Postgres role passwords are turned into SCRAM verifiers on this
side so that a plain-text password never reaches the server's logs or statistics.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

PBKDF2_ITERATIONS = 60_000
TOKEN_TTL_SECONDS = 1800


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Hash a password as 'pbkdf2_sha256$iterations$salt$hash'."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64url(salt)}${_b64url(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Check a password against a stored hash; a malformed hash never matches."""
    try:
        scheme, iterations, salt, expected = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), _b64url_decode(salt), int(iterations))
    except (ValueError, UnicodeError):
        return False
    return hmac.compare_digest(_b64url(digest), expected)


def issue_token(secret: str, subject: str, ttl: int = TOKEN_TTL_SECONDS) -> str:
    """Sign an HS256 JWT for a user id."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"sub": subject, "type": "access", "iat": now, "exp": now + ttl}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def verify_token(secret: str, token: str) -> dict[str, Any] | None:
    """Return a token's claims when its signature and expiry are valid, else None."""
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64url(expected.digest()), signature):
            return None
        claims = json.loads(_b64url_decode(body))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(claims, dict) or claims.get("type") != "access":
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    if not isinstance(claims.get("sub"), str):
        return None
    return claims


def signup_otp(secret: str, email: str) -> str:
    """The 6-digit sign-up code for an address. The real service e-mails a random one; the
    sandbox derives it from its JWT secret so that its own synthetic traffic (which can read
    that secret) completes sign-up as users do, and nobody else can."""
    digest = hmac.new(secret.encode(), b"otp:" + email.lower().encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """Build the SCRAM-SHA-256 verifier that Postgres stores for a role password."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
