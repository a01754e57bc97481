"""Earlier records of the same environment: the one reader of run folders, and the baseline a run compares itself with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from postdeploy.run.runmodel import normalized


def record_folders(env_dir: Path, *, newest_first: bool = False) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield (run folder, record) for every readable `reports/<env>/*/record.json`, in run order.

    Symlinks (`latest`) are not followed; a folder without a readable record (a run that was
    killed before it wrote one) is passed over. A record of an older schema is read through the
    run model's codec (runmodel.normalized): its check entries as the current schema writes them.
    """
    if not env_dir.is_dir():
        return
    folders = sorted((p for p in env_dir.iterdir() if p.is_dir() and not p.is_symlink()), reverse=newest_first)
    for folder in folders:
        try:
            data = json.loads((folder / "record.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield folder, normalized(data)


class History:
    """Reads `reports/<env>/*/record.json`, newest first, skipping the run in progress."""

    def __init__(self, env_dir: Path, current: Path | None = None) -> None:
        self.env_dir = env_dir
        self.current = current.resolve() if current else None

    def records(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for folder, data in record_folders(self.env_dir, newest_first=True):
            if self.current is None or folder.resolve() != self.current:
                yield folder, data

    def last_value(self, check_id: str, *, verdict: str = "success") -> tuple[Path, Any] | None:
        """Return the value a check recorded in the newest record with that verdict, if any."""
        for folder, data in self.records():
            if data.get("verdict") != verdict:
                continue
            for check in data.get("checks", []):
                if check.get("id") == check_id and check.get("outcome") == "passed" and check.get("value") is not None:
                    return folder, check["value"]
        return None

    def last_good_release(self, current_version: str) -> dict[str, Any] | None:
        """Return the newest successful record of another version: where a rollback goes."""
        for _, data in self.records():
            if data.get("verdict") == "success" and data.get("version") and data.get("version") != current_version:
                return data
        return None
