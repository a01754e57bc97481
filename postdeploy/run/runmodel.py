"""The run model: a check's outcome, a run's verdict and its exit code, a check entry and a run record.

One codec reads and writes record.json (`CheckEntry.from_json` / `to_json`, `RunRecord.from_json`
/ `to_json`); it reads every schema written so far:

- schema 1 (and records without a schema, e.g. hand-made seeds): a manual item nobody attested
  was recorded as outcome "skipped" with `attestation.status == "pending"`; read as `pending`;
- schema 2: the same item is recorded as outcome `pending`.
Keys a record lacks read as their defaults; keys the model does not know are kept as they are.

No pytest here: the pytest channel lives in channel.py, the verdict's rules in verdict.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Protocol, TypeVar

SCHEMA = 2


class Outcome(StrEnum):
    """What became of one check. Written to record.json as its value."""

    PASSED = "passed"
    FAILED = "failed"  # judged, and wrong
    ERROR = "error"  # crashed in setup or teardown (a fixture that could not connect)
    INCONCLUSIVE = "inconclusive"  # too little data to judge
    BLOCKED = "blocked"  # a dependency failed (gates.py): not judged on its own
    SKIPPED = "skipped"  # does not apply, or not configured (its kind says which)
    PENDING = "pending"  # a manual item waiting for a person's attestation (attest.py)

    @property
    def rank(self) -> int:
        """How bad: the higher, the worse (`worst()`)."""
        return _OUTCOME_RANK[self]

    @property
    def judged(self) -> bool:
        """Did the run judge this check (anything but skipped or pending)?"""
        return self not in (Outcome.SKIPPED, Outcome.PENDING)

    @property
    def bad(self) -> bool:
        """A finding of its own: failed, error or inconclusive."""
        return self in BAD


_OUTCOME_RANK = {
    Outcome.PASSED: 0,
    Outcome.SKIPPED: 1,
    Outcome.PENDING: 2,
    Outcome.INCONCLUSIVE: 3,
    Outcome.BLOCKED: 4,
    Outcome.FAILED: 5,
    Outcome.ERROR: 6,
}
BAD = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.INCONCLUSIVE})


class Verdict(StrEnum):
    """A run's verdict; its exit code is what `python -m postdeploy verdict` exits with."""

    SUCCESS = "success"
    ISSUES = "issues"
    ROLLBACK = "rollback"
    INCOMPLETE = "incomplete"  # no verdict to act on: no check judged, or the run did not finish

    @property
    def rank(self) -> int:
        """How bad: rollback > issues > incomplete > success (the timeline's overall verdict)."""
        return _VERDICT_RANK[self]

    @property
    def exit_code(self) -> int:
        return EXIT[self]


_VERDICT_RANK = {Verdict.SUCCESS: 0, Verdict.INCOMPLETE: 1, Verdict.ISSUES: 2, Verdict.ROLLBACK: 3}
# Exit codes: one per verdict; no readable record is "incomplete"; a usage error is 4 (pytest's), never 2.
EXIT: dict[str, int] = {Verdict.SUCCESS: 0, Verdict.ISSUES: 1, Verdict.ROLLBACK: 2, Verdict.INCOMPLETE: 3}
NO_RECORD = EXIT[Verdict.INCOMPLETE]
USAGE = 4


class Ranked(Protocol):
    @property
    def rank(self) -> int: ...


R = TypeVar("R", bound=Ranked)


def worst(values: Iterable[R], default: R) -> R:
    """The worst of `values` (`default` when there is none): the worst outcome, or verdict, wins."""
    return max(values, key=lambda v: v.rank, default=default)


def outcome_of(value: Any) -> Outcome | None:
    """An outcome from record.json's text; None for none or one this model does not know."""
    try:
        return Outcome(value) if value else None
    except ValueError:
        return None


def verdict_of(value: Any) -> Verdict | None:
    try:
        return Verdict(value) if value else None
    except ValueError:
        return None


def _empty(value: Any) -> bool:
    # What a check entry does not write: nothing said (0, False and [] are said).
    return value is None or (isinstance(value, str | dict) and not value)


@dataclass
class CheckEntry:
    """One check of a run, as record.json holds it under `checks`."""

    nodeid: str
    id: str = ""
    outcome: Outcome | None = None
    severity: str = "major"
    item: Any = None
    phases: list[str] | None = None
    depends_on: list[str] | None = None
    writes: bool | None = None
    summary: str = ""
    value: Any = None
    threshold: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""
    # Beyond pass/fail: "not_configured", "throttled", "unreachable" (results.py KINDS).
    kind: str = ""
    data: dict[str, Any] | None = None
    requests: int | None = None
    retries: list[str] | None = None
    duration_s: float | None = None
    blocked_by: str = ""
    unreached: list[str] | None = None
    attestation: dict[str, Any] = field(default_factory=dict)
    # Keys of the record this model does not know: kept, written back unchanged.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def attestation_status(self) -> str:
        return str(self.attestation.get("status", "")) if self.attestation else ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckEntry:
        """Read one entry of record.json, any schema (see the module's docstring)."""
        known = {f.name for f in fields(cls)} - {"extra"}
        kw = {k: v for k, v in data.items() if k in known and v is not None}
        kw["nodeid"] = str(data.get("nodeid", data.get("id", "")))
        kw["outcome"] = outcome_of(data.get("outcome"))
        if kw["outcome"] is Outcome.SKIPPED and (data.get("attestation") or {}).get("status") == "pending":
            kw["outcome"] = Outcome.PENDING  # schema 1 wrote a pending attestation as skipped
        entry = cls(**kw)
        entry.extra = {k: v for k, v in data.items() if k not in known}
        return entry

    def to_json(self) -> dict[str, Any]:
        """The entry as record.json holds it: what was said, in a fixed order, unknown keys last."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name != "extra" and not _empty(getattr(self, f.name)):
                out[f.name] = getattr(self, f.name)
        if self.outcome is not None:
            out["outcome"] = str(self.outcome)
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}

    def merge(self, said: Mapping[str, Any]) -> None:
        """Take in what one report phase (setup, call, teardown) says; the worst outcome wins."""
        for key, value in said.items():
            if key == "outcome" or _empty(value):
                continue
            if key in _FIELDS:
                setattr(self, key, value)
            else:
                self.extra[key] = value
        outcome = outcome_of(said.get("outcome"))
        if outcome is not None:
            self.outcome = outcome if self.outcome is None else worst((self.outcome, outcome), outcome)


_FIELDS = {f.name for f in fields(CheckEntry)} - {"extra", "nodeid"}


@dataclass
class RunRecord:
    """A run as record.json holds it. The keys most read are typed; every other one is in `extra`."""

    env: str = ""
    phase: str = ""
    verdict: Verdict = Verdict.INCOMPLETE
    verdict_reasons: list[str] = field(default_factory=list)
    checks: list[CheckEntry] = field(default_factory=list)
    version: str = ""
    commit: str = ""
    complete: bool = True
    judged: bool = True
    coverage: str = ""
    schema: int = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """Read a record.json of any schema; raises ValueError when it holds no verdict this model knows."""
        verdict = verdict_of(data.get("verdict"))
        if verdict is None:
            raise ValueError(f"no known verdict: {data.get('verdict')!r}")
        known = {"env", "phase", "version", "commit", "coverage"}
        return cls(
            **{k: str(data.get(k) or "") for k in known},
            verdict=verdict,
            verdict_reasons=[str(r) for r in data.get("verdict_reasons") or []],
            checks=[CheckEntry.from_json(c) for c in data.get("checks") or [] if isinstance(c, Mapping)],
            complete=bool(data.get("complete", True)),
            judged=bool(data.get("judged", True)),
            schema=int(data.get("schema") or 1),
            extra={k: v for k, v in data.items() if k not in known | _RUN_TYPED},
        )

    def to_json(self) -> dict[str, Any]:
        """The record as record.json holds it (the schema it was read with is kept)."""
        out: dict[str, Any] = {"schema": self.schema, "env": self.env, "phase": self.phase}
        out |= {"version": self.version, "commit": self.commit, **self.extra}
        out |= {"verdict": str(self.verdict), "verdict_reasons": list(self.verdict_reasons)}
        out |= {"complete": self.complete, "judged": self.judged}
        if self.coverage:
            out["coverage"] = self.coverage
        out["checks"] = [c.to_json() for c in self.checks]
        return out


_RUN_TYPED = {"verdict", "verdict_reasons", "checks", "complete", "judged", "schema"}


def entries(checks: Iterable[CheckEntry | Mapping[str, Any]]) -> list[CheckEntry]:
    """Check entries, typed: entries of record.json are read through the codec."""
    return [c if isinstance(c, CheckEntry) else CheckEntry.from_json(c) for c in checks]


def normalized(data: dict[str, Any]) -> dict[str, Any]:
    """A record.json of any schema with its check entries as the current schema writes them."""
    if not isinstance(data.get("checks"), list):
        return data
    return {**data, "checks": [c.to_json() for c in entries(c for c in data["checks"] if isinstance(c, Mapping))]}
