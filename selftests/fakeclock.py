"""A clock the watch's loop (postdeploy/outputs/watch.py `run`) is driven by in unit tests: time
passes only when the loop sleeps, so a 24 h watch takes milliseconds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from postdeploy.core.results import Result
from postdeploy.outputs import watch


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def run(self, probe: Callable[[float], Mapping[str, Result]], policy: watch.Policy, **kw: Any) -> watch.Outcome:
        """`watch.run` on this clock (deployed_at defaults to the clock's start)."""
        kw.setdefault("deployed_at", self.now)
        return watch.run(probe, policy, clock=self, sleep=self.sleep, **kw)
