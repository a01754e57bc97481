"""Database backups on disk: find the newest, tell its format by content, and read it back.

The reference service writes `amani_backup_YYYYMMDD_HHMMSS.sql.gz`, a gzipped custom-format
dump despite the `.sql` in its name; plain SQL dumps, gzipped or not, also occur. So the
format is decided by the first bytes of the (decompressed) content, never by the name.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

GZIP_MAGIC = b"\x1f\x8b"
CUSTOM_MAGIC = b"PGDMP"
# pg_dump's plain format starts with this comment and ends with "... dump complete".
PLAIN_HEADER = b"-- PostgreSQL database dump"
PLAIN_FOOTER = b"-- PostgreSQL database dump complete"
SQL_START = re.compile(
    rb"^\s*(--|/\*|SET\s|SELECT\s|CREATE\s|BEGIN|COPY\s|INSERT\s|ALTER\s|DROP\s|\\connect|\\restrict)", re.I
)
NAME_STAMP = re.compile(r"(\d{8})_(\d{6})")
CHUNK = 1 << 16


class BackupError(Exception):
    """A backup folder or file cannot be read; the message is one line for the report."""


@dataclass(frozen=True)
class Format:
    """What a backup file holds: `custom`, `plain` or `unknown`, and whether it is gzipped."""

    kind: str
    gzipped: bool

    def __str__(self) -> str:
        names = {"custom": "custom-format dump", "plain": "plain SQL", "unknown": "not a recognised dump"}
        return ("gzipped " if self.gzipped else "") + names[self.kind]


def sniff_bytes(head: bytes) -> Format:
    """Decide the format of a backup from its first bytes (decompressing a gzip header first)."""
    gzipped = head.startswith(GZIP_MAGIC)
    if gzipped:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4096)
        except zlib.error:
            return Format("unknown", True)
    if head.startswith(CUSTOM_MAGIC):
        return Format("custom", gzipped)
    return Format("plain" if _looks_like_sql(head) else "unknown", gzipped)


def _looks_like_sql(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the read boundary is still text.
        if exc.start < len(head) - 4:
            return False
        head = head[: exc.start]
    return PLAIN_HEADER in head[:200] or bool(SQL_START.match(head))


def sniff(path: Path) -> Format:
    """Read the first bytes of a file and decide its format."""
    try:
        with path.open("rb") as handle:
            return sniff_bytes(handle.read(4096))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class Backup:
    """One backup file and when it was taken (the stamp in its name, else its mtime)."""

    path: Path
    taken_at: datetime
    taken_source: str  # "name" or "mtime"
    size: int

    def age(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.taken_at).total_seconds()


def taken_at(path: Path, mtime: float, name_tz: str = "UTC") -> tuple[datetime, str]:
    """Return when a backup was taken: the YYYYMMDD_HHMMSS stamp of its name, else its mtime."""
    match = NAME_STAMP.search(path.name)
    if match:
        try:
            zone = ZoneInfo(name_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise BackupError(
                f"[backups] name_timezone {name_tz!r} is not a known time zone (e.g. UTC, Africa/Nairobi)"
            ) from None
        try:
            local = datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S")
            return local.replace(tzinfo=zone).astimezone(UTC), "name"
        except ValueError:
            pass  # 20261399_999999 is no time: fall back to the mtime
    return datetime.fromtimestamp(mtime, UTC), "mtime"


def list_backups(folder: Path, pattern: str = "*", name_tz: str = "UTC") -> list[Backup]:
    """Return the backup files of a folder, newest first; an unreadable folder is a `BackupError`."""
    if not folder.exists():
        raise BackupError(f"backup folder {folder} does not exist")
    if not folder.is_dir():
        raise BackupError(f"backup folder {folder} is not a folder")
    found = []
    try:
        entries = list(folder.glob(pattern))
    except OSError as exc:
        raise BackupError(f"cannot read backup folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.R_OK | os.X_OK):
        raise BackupError(f"cannot read backup folder {folder}: permission denied")
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue  # removed while we looked (the backup job rotates files)
        if not entry.is_file() or entry.name.startswith("."):
            continue
        when, source = taken_at(entry, st.st_mtime, name_tz)
        found.append(Backup(entry, when, source, st.st_size))
    return sorted(found, key=lambda b: (b.taken_at, b.path.name), reverse=True)


def pg_bin(configured: str, program: str) -> str:
    """Return the path of a PostgreSQL client program: the configured folder, the newest
    /usr/lib/postgresql/*/bin (Debian's /usr/bin ones are wrappers that want a cluster), or PATH."""
    if configured:
        path = Path(configured) / program
        if not os.access(path, os.X_OK):
            raise BackupError(f"{program} not found in [backups] pg_bin {configured}: no executable {path}")
        return str(path)
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{program}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if versions:
        return str(versions[-1])
    found = shutil.which(program)
    if not found:
        raise BackupError(f"{program} not found: install the PostgreSQL client or set [backups] pg_bin")
    return found


def chunks(path: Path, gzipped: bool) -> Iterator[bytes]:
    """Yield the content of a backup, decompressed; a truncated gzip stream raises `BackupError`."""
    try:
        opener = gzip.open if gzipped else open
        with opener(path, "rb") as handle:  # type: ignore[operator]
            while True:
                block = handle.read(CHUNK)
                if not block:
                    return
                yield block
    except EOFError:
        raise BackupError(f"{path.name}: gzip stream is truncated (ended before its end-of-stream marker)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise BackupError(f"{path.name}: gzip stream is corrupt: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None


@dataclass
class ReadBack:
    """What reading a backup back found: the bytes read, TOC entries (custom) and the time taken."""

    fmt: Format
    bytes_read: int
    seconds: float
    entries: int = 0
    detail: str = ""


def _feed(proc: subprocess.Popen[bytes], source: Iterator[bytes], errors: list[BaseException]) -> int:
    total = 0
    assert proc.stdin is not None
    try:
        for block in source:
            total += len(block)
            proc.stdin.write(block)
    except BrokenPipeError:
        pass  # the reader gave up; its exit status says why
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
        errors.append(exc)
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    return total


def run_fed(
    cmd: list[str], source: Iterator[bytes], timeout: float, env: dict[str, str] | None = None
) -> tuple[int, str, str, int]:
    """Run a program with `source` streamed into its stdin; return (exit code, stdout, stderr, bytes fed).

    A feeder thread writes while the caller waits, so a large dump never sits in memory.
    A gzip error in the source is raised here, after the program was stopped.
    """
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    errors: list[BaseException] = []
    fed = [0]
    outputs: dict[str, bytes] = {}

    def drain(name: str, stream: IO[bytes]) -> None:
        outputs[name] = stream.read()

    assert proc.stdout is not None and proc.stderr is not None
    threads = [
        threading.Thread(target=lambda: fed.__setitem__(0, _feed(proc, source, errors)), daemon=True),
        threading.Thread(target=drain, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=drain, args=("err", proc.stderr), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise BackupError(f"{Path(cmd[0]).name} gave no result within {timeout:g}s") from None
    finally:
        for thread in threads:
            thread.join(5)
    out, err = outputs.get("out", b""), outputs.get("err", b"")
    if errors:
        raise errors[0] if isinstance(errors[0], BackupError) else BackupError(str(errors[0]))
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), fed[0]


def read_back(path: Path, pg_bin_dir: str = "", timeout: float = 300.0) -> ReadBack:
    """Read a whole backup back as a restore would; any problem is a `BackupError` saying what.

    custom: `pg_restore --list` (the table of contents), then a full read of every data
    block (`pg_restore --file=/dev/null`), since a truncated archive still has its TOC;
    plain SQL: a streamed read to the end, which must carry pg_dump's "dump complete" line
    when the file starts with pg_dump's header.
    """
    fmt = sniff(path)
    started = time.monotonic()
    if fmt.kind == "unknown":
        raise BackupError(f"{path.name}: content is {fmt} (neither a pg_dump custom archive nor SQL)")
    if fmt.kind == "custom":
        restore = pg_bin(pg_bin_dir, "pg_restore")
        code, listing, err, _ = run_fed([restore, "--list"], chunks(path, fmt.gzipped), timeout)
        if code != 0:
            raise BackupError(f"{path.name}: pg_restore --list failed: {_first_error(err)}")
        entries = sum(1 for line in listing.splitlines() if line.strip() and not line.startswith(";"))
        code, _, err, total = run_fed([restore, "--file=/dev/null"], chunks(path, fmt.gzipped), timeout)
        if code != 0:
            raise BackupError(f"{path.name}: pg_restore could not read the archive to its end: {_first_error(err)}")
        return ReadBack(fmt, total, time.monotonic() - started, entries, f"pg_restore --list: {entries} TOC entries")
    total, tail, head = 0, b"", b""
    for block in chunks(path, fmt.gzipped):
        if total == 0:
            head = block[:200]
        total += len(block)
        tail = (tail + block)[-4096:]
    if PLAIN_HEADER in head and PLAIN_FOOTER not in tail:
        raise BackupError(f"{path.name}: plain SQL dump is truncated: no '{PLAIN_FOOTER.decode()}' line at its end")
    return ReadBack(fmt, total, time.monotonic() - started, detail=f"read {total} bytes of SQL to the end")


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no message"])[0][:300]
