"""The Prometheus HTTP API client: instant and range queries, rules, alerts, targets.

"No data" (an empty result, or NaN from 0/0) is `None`, never 0: a check that reads
nothing must say so instead of passing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from postdeploy.config import Prometheus
from postdeploy.core.errors import BadResponse, TargetTimeout, TargetUnreachable
from postdeploy.core.redaction import redact
from postdeploy.sources.httpjson import JsonClient

# Prometheus refuses a range query whose (end - start) / step exceeds 11,000 points per series.
MAX_POINTS = 11_000
# Points per series when a caller asks for none in particular: enough for a trend or a chart.
DEFAULT_POINTS = 120


def range_step(span: float, points: int = DEFAULT_POINTS, minimum: float = 1.0) -> int:
    """The step (whole seconds) of a range query over `span` seconds: every caller's one source.

    Aims at about `points` points, never below `minimum` (e.g. a configured step) nor 1 s, and
    never so small that the series holds more than `MAX_POINTS` points (floor(span / step) + 1).
    Prometheus parses "11s" but refuses "11.24s", hence whole seconds.
    """
    span = max(float(span), 0.0) if math.isfinite(span) else 0.0
    wanted = span / max(int(points), 1)
    step = max(1, math.ceil(wanted - 1e-9), math.ceil(minimum - 1e-9) if math.isfinite(minimum) else 1)
    # floor(span / step) + 1 <= MAX_POINTS  <=  step > span / (MAX_POINTS - 1) (a point of margin
    # for the millisecond rounding of start and end).
    step = max(step, math.floor(span / (MAX_POINTS - 1)) + 1)
    return int(step)


def range_params(expr: str, start: float, end: float, step: float) -> dict[str, str]:
    """The query_range parameters Prometheus accepts: whole-second step, bounded points, start <= end."""
    end = max(end, start)
    whole = range_step(end - start, points=MAX_POINTS, minimum=step)
    return {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{whole}s"}


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value (NaN kept as NaN)."""

    labels: dict[str, str]
    value: float

    def __repr__(self) -> str:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{{{labels}}} {self.value:g}"


@dataclass(frozen=True)
class Series:
    """One series of a range query: labels and (timestamp, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def parse_response(payload: Any, where: str) -> dict[str, Any]:
    """Return the `data` member of a Prometheus API answer or raise `BadResponse`."""
    if not isinstance(payload, dict) or "status" not in payload:
        raise BadResponse(f"{where}: not a Prometheus API answer: {redact(str(payload)[:120])!r}", target=where)
    if payload["status"] != "success":
        kind = payload.get("errorType", "error")
        raise BadResponse(f"{where}: Prometheus {kind}: {redact(str(payload.get('error', '?')))}", target=where)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BadResponse(f"{where}: Prometheus answer without data", target=where)
    return data


def parse_value(raw: Any, where: str) -> float:
    """Return the float of a `[timestamp, "value"]` pair (Prometheus sends values as strings)."""
    try:
        _, text = raw
        return float(text)
    except (TypeError, ValueError):
        raise BadResponse(f"{where}: malformed sample {raw!r}", target=where) from None


def parse_vector(data: dict[str, Any], where: str) -> list[Sample]:
    """Return the samples of an instant-query `data`; a scalar becomes one unlabelled sample."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Sample({}, parse_value(result, where))]
    if kind != "vector" or not isinstance(result, list):
        raise BadResponse(f"{where}: expected an instant vector, got {kind}", target=where)
    out = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            raise BadResponse(f"{where}: malformed vector item {redact(str(item)[:80])!r}", target=where)
        out.append(Sample({str(k): str(v) for k, v in item["metric"].items()}, parse_value(item.get("value"), where)))
    return out


def parse_matrix(data: dict[str, Any], where: str) -> list[Series]:
    """Return the series of a range-query `data`."""
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise BadResponse(f"{where}: expected a range matrix, got {data.get('resultType')}", target=where)
    out = []
    for item in data["result"]:
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(values, list):
            raise BadResponse(f"{where}: malformed matrix item", target=where)
        points = [(float(v[0]), parse_value(v, where)) for v in values]
        out.append(Series(dict(item.get("metric") or {}), points))
    return out


class PromClient(JsonClient):
    """Asks one Prometheus server; every call has a timeout and a clear error."""

    def __init__(self, cfg: Prometheus, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(
            "Prometheus", base_url=cfg.url, headers=cfg.headers, token=cfg.token, timeout=cfg.timeout, transport=transport
        )
        self.cfg = cfg
        # Why the last request could not reach Prometheus, and how many could not (gates.py).
        self.unreachable, self.unreached = "", 0

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self.get(path, params=params)
        except (TargetTimeout, TargetUnreachable) as exc:
            self.unreachable, self.unreached = str(exc), self.unreached + 1
            raise
        return parse_response(self.decode(resp, "GET", path), self.where("GET", self.url(path)))

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Run an instant query and return its samples (an empty list is "no data")."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return parse_vector(self._get("/api/v1/query", params), f"query {expr!r}")

    def value(self, expr: str, at: float | None = None) -> float | None:
        """Return the single value of `expr`, or None when there is no data (or NaN)."""
        samples = self.query(expr, at)
        if not samples:
            return None
        if len(samples) > 1:
            raise BadResponse(f"query {expr!r} returned {len(samples)} series where one was due", target=self.cfg.url)
        v = samples[0].value
        return None if math.isnan(v) else v

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Run a range query; `step` should come from `range_step` (it is made valid here anyway)."""
        params = range_params(expr, start, end, step)
        return parse_matrix(self._get("/api/v1/query_range", params), f"range query {expr!r}")

    def rules(self) -> list[dict[str, Any]]:
        groups = self._get("/api/v1/rules").get("groups", [])
        return groups if isinstance(groups, list) else []

    def alerts(self) -> list[dict[str, Any]]:
        alerts = self._get("/api/v1/alerts").get("alerts", [])
        return alerts if isinstance(alerts, list) else []

    def targets(self) -> list[dict[str, Any]]:
        active = self._get("/api/v1/targets", {"state": "active"}).get("activeTargets", [])
        return active if isinstance(active, list) else []
