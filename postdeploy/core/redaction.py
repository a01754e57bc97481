"""Secrets: values read from named sources, redacted wherever text leaves the process.

A `Secret` never shows its value in `repr` or `str`. Every secret that is read is also
registered with the module's redactor, so that report writers can pass any text through
`redact()` as a last line of defence (exception messages from drivers, for example, may
quote a DSN).
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"

_lock = threading.Lock()
_known: set[str] = set()

# Credentials in URLs and key=value DSNs, whatever their source.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):[^@/\s]+@")
_DSN_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('[^']*'|\S+)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")


class Secret:
    """A secret value with a redacted repr; `.reveal()` is the only way to read it."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        if not value:
            raise ValueError(f"empty secret from {source}")
        self._value = value
        self.source = source
        register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK} from {self.source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Pickling (xdist, multiprocessing) would carry the value in the clear.
        raise TypeError("a Secret cannot be pickled; pass its source instead")


def register(value: str) -> None:
    """Remember a secret value so that `redact` masks it."""
    # Very short values would mask ordinary words; secrets that short are not secrets.
    if len(value) >= 4:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Return `text` with every known secret, URL credential, DSN password and bearer token masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _DSN_PASSWORD.sub(lambda m: f"{m[1]}={MASK}", text)
    text = _BEARER.sub(lambda m: f"{m[1]} {MASK}", text)
    return text
