"""Application logs: read from a file, `docker logs` or `kubectl logs`; JSON and plain-text lines.

Every line becomes a `LogLine` with a timestamp (when the line or its source has one),
a level (when one can be recognised) and the message. Lines without a timestamp
(traceback continuation lines) inherit the timestamp of the line before them, so that
"since deploy time" keeps them with their parent.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from postdeploy.config import Logs
from postdeploy.core.errors import ConfigError, TargetError, TargetTimeout, TargetUnreachable

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "CRIT": "CRITICAL"}
# "2026-11-27 01:28:06 - app.main - INFO - Starting ..." (the service in development)
_TEXT = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[.,]\d+)?\s+-\s+(?P<name>\S+)\s+-\s+"
    r"(?P<level>[A-Za-z]+)\s+-(?:\s(?P<msg>.*))?$"
)
# "ERROR:    Exception in ASGI application" (uvicorn)
_UVICORN = re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<msg>.*)$")
# RFC 3339 prefix that `docker logs --timestamps` / `kubectl logs --timestamps` add.
_RUNTIME_TS = re.compile(
    r"^(?:\[[^\]]*\]\s)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s(?P<rest>.*)$"
)


@dataclass(frozen=True)
class LogLine:
    """One log line as understood: when, how severe, what."""

    raw: str
    message: str
    level: str | None = None
    ts: datetime | None = None

    def __repr__(self) -> str:
        when = self.ts.strftime("%Y-%m-%d %H:%M:%S") if self.ts else "?"
        return f"[{when} {self.level or '-'}] {self.message[:200]}"


def normalise_level(text: object) -> str | None:
    """Return the canonical level name for "warn", "Error", "FATAL" ... or None."""
    if not isinstance(text, str):
        return None
    up = text.strip().upper()
    up = _ALIASES.get(up, up)
    return up if up in LEVELS else None


def _parse_ts(text: str, tz: ZoneInfo | None) -> datetime | None:
    try:
        if "T" in text and (text.endswith("Z") or re.search(r"[+-]\d\d:\d\d$", text)):
            # Python's fromisoformat takes at most 6 fractional digits; Docker sends 9.
            text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
            return datetime.fromisoformat(text).astimezone(UTC)
        dt = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz or UTC)
    return dt.astimezone(UTC)


def parse_line(raw: str, tz: ZoneInfo | None = None) -> LogLine:
    """Understand one line: a JSON record, the service's text format, uvicorn's, or anything."""
    raw = raw.rstrip("\r\n")
    ts: datetime | None = None
    body = raw
    m = _RUNTIME_TS.match(raw)
    if m:
        ts, body = _parse_ts(m["ts"], tz), m["rest"]
    stripped = body.lstrip()
    if stripped.startswith("{"):
        try:
            rec = json.loads(stripped)
        except ValueError:
            rec = None
        if isinstance(rec, dict):
            level = normalise_level(rec.get("levelname") or rec.get("level") or rec.get("severity"))
            when = rec.get("asctime") or rec.get("timestamp") or rec.get("time")
            if isinstance(when, str):
                ts = _parse_ts(when, tz) or ts
            message = rec.get("message") or rec.get("msg") or stripped
            return LogLine(raw, str(message), level, ts)
    m2 = _TEXT.match(stripped)
    if m2:
        return LogLine(raw, m2["msg"] or "", normalise_level(m2["level"]), _parse_ts(m2["ts"], tz) or ts)
    m3 = _UVICORN.match(stripped)
    if m3:
        return LogLine(raw, m3["msg"], m3["level"], ts)
    return LogLine(raw, stripped.rstrip(), None, ts)


def parse_lines(lines: Iterable[str], tz: ZoneInfo | None = None) -> Iterator[LogLine]:
    """Parse lines, giving a line without a timestamp the timestamp of the line before it."""
    last: datetime | None = None
    for raw in lines:
        line = parse_line(raw, tz)
        if line.ts is None and last is not None:
            line = LogLine(line.raw, line.message, line.level, last)
        last = line.ts or last
        yield line


def since(lines: Iterable[LogLine], when: datetime | None) -> list[LogLine]:
    """Keep the lines at or after `when` (whole seconds: the service logs seconds only)."""
    if when is None:
        return list(lines)
    cutoff = when.astimezone(UTC).replace(microsecond=0)
    return [ln for ln in lines if ln.ts is not None and ln.ts >= cutoff]


class LogSource:
    """Reads the application's log lines since a moment, from the configured source."""

    def __init__(self, cfg: Logs) -> None:
        if cfg.kind not in ("file", "docker", "kubectl"):
            raise ConfigError(f"logs.kind {cfg.kind!r} is not one of file, docker, kubectl")
        self.cfg = cfg
        try:
            self.tz = ZoneInfo(cfg.timezone)
        except Exception:
            raise ConfigError(f"logs.timezone {cfg.timezone!r} is not a known time zone") from None

    def describe(self) -> str:
        c = self.cfg
        if c.kind == "file":
            return f"file {c.path}"
        if c.kind == "docker":
            return f"docker logs {c.container}"
        return f"kubectl logs -l {c.selector}" + (f" -n {c.namespace}" if c.namespace else "")

    def read(self, since_time: datetime | None) -> list[LogLine]:
        """Return the parsed lines written at or after `since_time` (all lines when None)."""
        return since(parse_lines(self._raw_lines(since_time), self.tz), since_time)

    def _raw_lines(self, since_time: datetime | None) -> list[str]:
        c = self.cfg
        if c.kind == "file":
            try:
                with open(Path(c.path), encoding="utf-8", errors="replace") as fh:
                    return fh.readlines()
            except OSError as exc:
                raise TargetUnreachable(f"log file {c.path}: {exc.strerror}", target=c.path) from None
        stamp = since_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since_time else None
        if c.kind == "docker":
            cmd = ["docker", "logs", "--timestamps"]
            cmd += ["--since", stamp] if stamp else []
            cmd.append(c.container)
        else:
            cmd = ["kubectl", "logs", "-l", c.selector, "--timestamps", "--all-containers", "--prefix", "--tail=-1"]
            cmd += [f"--since-time={stamp}"] if stamp else []
            cmd += ["-n", c.namespace] if c.namespace else []
            cmd += ["--context", c.context] if c.context else []
        return run_command(cmd, c.timeout).splitlines()


def run_command(cmd: list[str], timeout: float) -> str:
    """Run a read-only command (docker, kubectl) with a timeout; stdout and stderr together."""
    where = " ".join(cmd[:3])
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise TargetUnreachable(f"{cmd[0]} is not installed or not on PATH", target=cmd[0]) from None
    except subprocess.TimeoutExpired:
        raise TargetTimeout(f"{where}: no answer within {timeout:g}s", target=cmd[0]) from None
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        first = out.strip().splitlines()[:1]
        raise TargetError(
            f"{where} failed (exit {proc.returncode}): {first[0] if first else 'no output'}", target=cmd[0]
        )
    return out
