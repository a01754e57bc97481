"""Everything that can be checked before the first check runs, checked in `pytest_configure`.

The environment loader already refuses missing secrets (files and variables) and URLs
without a scheme. This adds what it cannot see from the file alone: CA bundles that must
be readable PEM, URLs that must name a host, folders and programs that must exist. Each
problem is one line naming the key; the plugin stops with all of them (exit 4), before
any check, report or Slack post.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Keys whose value, when given, is a folder that must exist (relative to the environment file).
FOLDERS = {"changes.repo", "staging.reports_dir", "backups.pg_bin", "restore.work_dir"}


def _walk(obj: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, value) of the environment's dataclasses, lists of tables included."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            here = f"{where}.{f.name}" if where else f.name
            yield from _walk(getattr(obj, f.name), here)
    elif isinstance(obj, list) and obj and dataclasses.is_dataclass(obj[0]):
        for i, item in enumerate(obj):
            yield from _walk(item, f"{where}[{i}]")
    else:
        yield where, obj


def _ca_problem(key: str, value: str) -> str:
    path = Path(value)
    if not path.is_file():
        return f"{key}: CA bundle {value} not found" if not path.exists() else f"{key}: {value} is not a file"
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        return f"{key}: CA bundle {value} is not a readable PEM certificate bundle ({exc.reason or exc})"
    except OSError as exc:
        return f"{key}: cannot read the CA bundle {value}: {exc.strerror or exc}"
    return ""


def _url_problem(key: str, value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"{key}: malformed URL {value!r}: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"{key}: URL {value!r} must start with http:// or https://"
    if not parts.hostname:
        return f"{key}: URL {value!r} names no host"
    del port
    return ""


def problems(env: Any) -> list[str]:
    """Return one line per problem found in a loaded environment (empty: ready to run)."""
    base = Path(str(env.path)).parent
    out = []
    for key, value in _walk(env):
        if not isinstance(value, str) or not value:
            continue
        name = key.rsplit(".", 1)[-1]
        if name == "ca_bundle":
            problem = _ca_problem(key, value)
        elif name == "url" or name.endswith("_url"):
            problem = _url_problem(key, value)
        elif key in FOLDERS:
            # Relative: to the current directory, as the checks use it (or to the environment file).
            problem = "" if Path(value).is_dir() or (base / value).is_dir() else f"{key}: folder {value} does not exist"
        else:
            problem = ""
        if problem:
            out.append(f"{env.path}: {problem}")
    return out
