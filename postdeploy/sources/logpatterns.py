"""Error patterns in log lines: which lines are errors, and what they have in common.

The guide counts errors with `grep -i error` and groups them with
`cut -d: -f1-2 | sort | uniq -c | sort -rn | head -20`. Here a line is an error when its
level is ERROR or CRITICAL (JSON or text logs), or, for a line without a recognisable
level (tracebacks, foreign output), when it says "error", "exception" or "traceback".
Lines are grouped by their message with the variable parts (numbers, ids, addresses,
quoted values) replaced by placeholders, so that "timeout after 31 s" and "timeout after
29 s" are one pattern.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from postdeploy.sources.logsource import LogLine

ERROR_LEVELS = ("ERROR", "CRITICAL")
_ERROR_WORDS = re.compile(r"(?i)\b(error|exception|traceback)\b")
MAX_PATTERN = 160

# Order matters: the specific shapes first, bare numbers last.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<uuid>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b[0-9a-fA-F]{16,}\b"), "<hex>"),
    (re.compile(r"'[^'\n]{0,200}'"), "'<s>'"),
    (re.compile(r'"[^"\n]{0,200}"'), '"<s>"'),
    (re.compile(r"\b\d+(?:[.,]\d+)?"), "<n>"),
]
_SPACES = re.compile(r"\s+")


def is_error(line: LogLine) -> bool:
    """Tell whether a line counts as an error (see the module docstring)."""
    if line.level is not None:
        return line.level in ERROR_LEVELS
    return bool(_ERROR_WORDS.search(line.message))


def normalise(message: str) -> str:
    """Return the message with its variable parts replaced by placeholders, at most 160 characters."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(message))
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    text = _SPACES.sub(" ", text).strip()
    return text[:MAX_PATTERN] or "<empty>"


def pattern_of(line: LogLine) -> str:
    """Return the group a line belongs to: its level and its normalised message."""
    return f"{line.level or '-'} {normalise(line.message)}"


def top_patterns(lines: Iterable[LogLine], n: int = 20) -> list[tuple[str, int]]:
    """Return the n most frequent patterns with their counts, most frequent first, ties by name."""
    counts = Counter(pattern_of(ln) for ln in lines)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, n)]


def count_patterns(lines: Iterable[LogLine], patterns: Iterable[str]) -> dict[str, int]:
    """Count the lines containing each pattern, case-insensitively (the guide's `grep -i`)."""
    wanted = [p for p in patterns if p]
    counts = dict.fromkeys(wanted, 0)
    for ln in lines:
        raw = ln.raw.lower()
        for p in wanted:
            if p.lower() in raw:
                counts[p] += 1
    return counts
