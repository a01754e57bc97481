"""Manual items: pending until a person attests them (`--attest ID="who: note"` or `--attestations FILE`).

A pending attestation is recorded on its check (`"attestation": {"status": "pending"}`) and
makes the verdict `issues`, never `success` (verdict.py); an attested item carries who and
the note: the "actions taken" of the sign-off.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from postdeploy import catalog
from postdeploy.run import channel

# id -> (guide item, what a person attests), from the catalog.
MANUAL: dict[str, tuple[str, str]] = catalog.manual_items()
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class AttestationError(ValueError):
    """An attestation that cannot be read; the message names its source."""


@dataclass(frozen=True)
class Attestation:
    """One person's word on one manual item."""

    id: str
    who: str
    note: str
    source: str = "--attest"

    def as_json(self) -> dict[str, Any]:
        return {"status": "attested", "who": self.who, "note": self.note, "source": self.source}


def unknown(item: str, source: str) -> str:
    return f"unknown manual item {item!r} from {source} (manual items: {', '.join(sorted(MANUAL))})"


def parse(text: str, source: str = "--attest") -> Attestation:
    """Parse `ID=who: note` (the note is what was done or seen)."""
    item, sep, rest = text.partition("=")
    item = item.strip()
    if sep and item and item not in MANUAL:
        # The id first: a typo in it is the likelier mistake, and fixing the format would not help.
        raise AttestationError(unknown(item, source))
    if not sep or not _ID.match(item):
        raise AttestationError(f'invalid attestation {text!r} from {source}: write ID="who: note"')
    who, sep, note = rest.partition(":")
    who, note = who.strip(), note.strip()
    if not sep or not who or not note:
        raise AttestationError(f'invalid attestation for {item} from {source}: write {item}="who: note" (both needed)')
    if "\n" in who or "\n" in note:
        raise AttestationError(f"invalid attestation for {item} from {source}: one line only")
    return Attestation(item, who, note, source)


def parse_file(path: Path) -> list[Attestation]:
    """Read an attestation file: JSON `{"ID": "who: note"}` or lines `ID=who: note` (# comments)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AttestationError(
            f"cannot read attestation file {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AttestationError(f"attestation file {path}: not valid JSON: {exc}") from None
        out = []
        for key, value in data.items():
            if isinstance(value, dict):
                value = f"{value.get('who', '')}: {value.get('note', '')}"
            if not isinstance(value, str):
                raise AttestationError(f'attestation file {path}: {key} must be "who: note"')
            out.append(parse(f"{key}={value}", str(path)))
        return out
    return [
        parse(line.strip(), f"{path}:{n}")
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def collect(flags: list[str], files: list[str]) -> dict[str, Attestation]:
    """Every attestation of the run, by id (a later one wins); unknown ids are errors (typos)."""
    found = [a for f in files for a in parse_file(Path(f))] + [parse(t) for t in flags]
    for a in found:
        if a.id not in MANUAL:
            raise AttestationError(unknown(a.id, a.source))
    return {a.id: a for a in found}


ATTESTATIONS = pytest.StashKey[dict[str, Attestation]]()


FILE_VAR = "POSTDEPLOY_ATTESTATIONS"
FILE_INI = "postdeploy_attestations"


def addoption(group: Any, parser: pytest.Parser | None = None) -> None:
    if parser is not None:
        parser.addini(FILE_INI, "attestation file (JSON or lines ID=who: note)", default=None)
    group.addoption(
        "--attest",
        dest="postdeploy_attest",
        action="append",
        default=[],
        metavar='ID="who: note"',
        help="a person attests a manual item (repeatable): " + ", ".join(sorted(MANUAL)),
    )
    group.addoption(
        "--attestations",
        dest="postdeploy_attestations",
        action="append",
        default=[],
        metavar="FILE",
        help=f'attestations from a file: JSON {{"ID": "who: note"}} or lines ID=who: note [env {FILE_VAR}, ini {FILE_INI}]',
    )


def configure(config: pytest.Config) -> None:
    """Read the run's attestations into the stash; a bad one stops the run with one line."""
    files = list(config.getoption("postdeploy_attestations") or [])
    if not files and os.environ.get(FILE_VAR):
        files = [os.environ[FILE_VAR]]
    if not files and config.getini(FILE_INI):
        files = [str(config.getini(FILE_INI))]
    try:
        config.stash[ATTESTATIONS] = collect(config.getoption("postdeploy_attest") or [], files)
    except AttestationError as exc:
        raise pytest.UsageError(str(exc)) from None


def judge(check: Any) -> None:
    """Pass with who and the note when attested; otherwise record the item as pending and skip.

    `check` is the `check` fixture: it knows its item and its id (from the marker)."""
    __tracebackhide__ = True
    from postdeploy.core.results import passed

    item, check_id = check.item, check.id

    found = item.config.stash.get(ATTESTATIONS, {}).get(check_id)
    guide, what = MANUAL[check_id]
    if found is not None:
        channel.say(item, attestation={**found.as_json(), "at": _now()})
        check.judge(
            passed(
                f"attested by {found.who}: {found.note}",
                value=found.who,
                evidence={"item": f"{guide}: {what}", "attested by": found.who, "note": found.note},
            )
        )
        return
    summary = f'pending attestation: {what} (pass --attest {check_id}="who: note")'
    channel.say(item, summary=summary, attestation={"status": "pending", "what": what})
    pytest.skip(summary)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def pending(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks of a record whose attestation is still pending."""
    return [c for c in checks if (c.get("attestation") or {}).get("status") == "pending"]


def attested(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks of a record a person attested."""
    return [c for c in checks if (c.get("attestation") or {}).get("status") == "attested"]
