"""The database size history of an environment: `reports/<env>/history.jsonl`.

Every run of `db.size` (item 23) appends one line; `capacity` (item 28) reads them back to
compute the growth rate. One JSON object per line, UTF-8, append-only:

    {"ts": "2026-11-27T04:40:00Z", "epoch": 1795754400.0, "kind": "db.size",
     "env": "prod", "database": "amani", "size_bytes": 8421123,
     "tables": [{"table": "public.transactions", "bytes": 2105344}, ...]}

`kind` leaves room for other series in the same file; readers skip kinds, environments
and databases that are not theirs, and lines that are not valid JSON (a run killed
mid-write leaves at most one such line).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KIND = "db.size"


@dataclass(frozen=True)
class SizeRecord:
    """One measurement of a database's size."""

    epoch: float
    env: str
    database: str
    size_bytes: int
    tables: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        ts = datetime.fromtimestamp(self.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "ts": ts,
            "epoch": round(self.epoch, 3),
            "kind": KIND,
            "env": self.env,
            "database": self.database,
            "size_bytes": self.size_bytes,
            "tables": self.tables,
        }


def history_path(configured: str, env_dir: Path) -> Path:
    """Return the history file: the configured one, else `<reports>/<env>/history.jsonl`."""
    return Path(configured) if configured else env_dir / "history.jsonl"


def append(path: Path, record: SizeRecord) -> None:
    """Append one line (one write call, so concurrent runs do not interleave within a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record.to_json(), separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def parse(text: str, env: str, database: str) -> list[SizeRecord]:
    """Return the records of one env and database in the text, oldest first; bad lines skipped."""
    out = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict) or data.get("kind") != KIND:
            continue
        if data.get("env") != env or data.get("database") != database:
            continue
        epoch, size = data.get("epoch"), data.get("size_bytes")
        if not isinstance(epoch, int | float) or isinstance(size, bool) or not isinstance(size, int):
            continue
        raw_tables = data.get("tables")
        tables = [t for t in raw_tables if isinstance(t, dict)] if isinstance(raw_tables, list) else []
        out.append(SizeRecord(float(epoch), env, database, size, tables))
    return sorted(out, key=lambda r: r.epoch)


def read(path: Path, env: str, database: str) -> list[SizeRecord]:
    """Return the records of one env and database, oldest first ([] when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return parse(text, env, database)
