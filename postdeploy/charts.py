"""Charts for the HTML report: error rate and p95 over the checked window, the deploy marked.

The series come from range queries (`query_range`) on the same PromQL the first15 checks
judge (postdeploy.checks.metrics builds both), in their `increase()`/`rate()` form so each
point is the rate over `[charts] rate_window`. The output is inline SVG: the report stays
one self-contained file that opens without network or JavaScript.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from postdeploy.checks.metrics import Window, error_rate_queries, latency_queries, rate_of
from postdeploy.config import Environment
from postdeploy.durations import promql_duration
from postdeploy.errors import TargetError
from postdeploy.promql import PromClient, Series, range_step

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 26, 34
# The longest span plotted: a run a day after the deploy still shows the deploy.
LONGEST = 26 * 3600.0


@dataclass(frozen=True)
class Span:
    """The stretch of time a chart covers, its step and the rate window of each point."""

    start: float
    end: float
    step: float
    rate_window: float


def span_for(now: float, deployed_at: float | None, window: float, rate_window: float, points: int) -> Span:
    """Cover the checked window and, when the deploy is recent enough, a little before it."""
    start = now - window
    if deployed_at is not None and now - deployed_at < LONGEST:
        start = min(start, deployed_at - max(0.25 * window, 4 * rate_window))
    step = float(range_step(now - start, points=max(points, 10)))
    return Span(start, now, step, float(math.ceil(max(rate_window, 2 * step))))


def _points(series: list[Series]) -> dict[float, float]:
    """Sum the series of a range query per timestamp (a sum() query has one series)."""
    out: dict[float, float] = {}
    for s in series:
        for t, v in s.points:
            if not math.isnan(v):
                out[t] = out.get(t, 0.0) + v
    return out


def error_rate_series(prom: PromClient, job: str, span: Span) -> tuple[list[tuple[float, float]], dict[str, str]]:
    """Return (time, error ratio) points and the queries that made them."""
    queries = error_rate_queries(job, Window(span.rate_window), exact=False)
    got = {k: _points(prom.query_range(q, span.start, span.end, span.step)) for k, q in queries.items()}
    points = []
    for t in sorted(got["requests"]):
        total = got["requests"][t] + got["unhandled"].get(t, 0.0)
        if total > 0:
            points.append((t, rate_of(got["requests"][t], got["5xx"].get(t, 0.0), got["unhandled"].get(t, 0.0))))
    return points, queries


def p95_series(prom: PromClient, job: str, span: Span) -> tuple[list[tuple[float, float]], dict[str, str]]:
    """Return (time, p95 seconds) points and the query that made them."""
    query = latency_queries(job, Window(span.rate_window), exact=False)["quantile"]
    points = sorted(_points(prom.query_range(query, span.start, span.end, span.step)).items())
    return points, {"p95": query}


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def svg_chart(
    title: str,
    points: list[tuple[float, float]],
    span: Span,
    deployed_at: float | None,
    threshold: float,
    fmt: str,
    scale: float = 1.0,
    judged: float = 0.0,
) -> str:
    """Return one line chart as an SVG element: the series, the threshold and the deploy marker."""
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([v for _, v in points] + [threshold * 1.25]) or 1.0

    def x(t: float) -> float:
        return LEFT + (t - span.start) / max(span.end - span.start, 1e-9) * w

    def y(v: float) -> float:
        return TOP + h - min(v, top) / top * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="postdeploy-chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}" '
        'style="background:#fff;border:1px solid #ddd;margin:4px 8px 4px 0;font-family:sans-serif">',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + h}" x2="{LEFT + w}" y2="{TOP + h}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + h}" stroke="#999"/>',
    ]
    if judged > 0:
        # The stretch the checks judged (the window since the deploy, capped): shaded.
        jx = x(max(span.start, span.end - judged))
        parts.append(
            f'<rect class="judged-window" x="{jx:.1f}" y="{TOP}" width="{LEFT + w - jx:.1f}" height="{h}" '
            'fill="#1565c0" fill-opacity="0.07"/>'
            f'<text x="{LEFT + w}" y="16" font-size="10" fill="#1565c0" text-anchor="end">'
            f"shaded: the {promql_duration(judged)} the checks judged</text>"
        )
    for frac in (0.0, 0.5, 1.0):
        v = top * frac
        parts.append(
            f'<text x="{LEFT - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{fmt.format(v * scale)}</text>'
        )
    for frac in (0.0, 0.5, 1.0):
        t = span.start + (span.end - span.start) * frac
        anchor = {0.0: "start", 0.5: "middle", 1.0: "end"}[frac]
        parts.append(
            f'<text x="{x(t):.1f}" y="{TOP + h + 14}" font-size="10" text-anchor="{anchor}">{_clock(t)} UTC</text>'
        )
    parts.append(
        f'<line class="threshold" x1="{LEFT}" y1="{y(threshold):.1f}" x2="{LEFT + w}" y2="{y(threshold):.1f}" '
        'stroke="#ef6c00" stroke-dasharray="6 3"/>'
        f'<text x="{LEFT + w}" y="{y(threshold) - 3:.1f}" font-size="10" fill="#ef6c00" text-anchor="end">'
        f"threshold {fmt.format(threshold * scale)}</text>"
    )
    if deployed_at is not None and span.start <= deployed_at <= span.end:
        dx = x(deployed_at)
        # The label stays inside the chart: left of the line when the deploy is near the right edge.
        lx, anchor = (dx - 3, "end") if dx > LEFT + 0.75 * w else (dx + 3, "start")
        parts.append(
            f'<line class="deploy-marker" x1="{dx:.1f}" y1="{TOP}" x2="{dx:.1f}" y2="{TOP + h}" '
            'stroke="#c62828" stroke-width="2" stroke-dasharray="4 2"/>'
            f'<text x="{lx:.1f}" y="{TOP + 10}" font-size="10" fill="#c62828" text-anchor="{anchor}">'
            f"deploy {_clock(deployed_at)}</text>"
        )
    if points:
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(f'<polyline fill="none" stroke="#1565c0" stroke-width="1.8" points="{path}"/>')
    else:
        parts.append(
            f'<text x="{LEFT + w / 2}" y="{TOP + h / 2}" font-size="12" fill="#777" text-anchor="middle">'
            "no data in this span</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render(env: Environment, now: float, deployed_at: datetime | None, window: float, judged: float = 0.0) -> str:
    """Return the charts section of the report (HTML with inline SVG), or "" when there is no Prometheus.

    A Prometheus that cannot be asked gives a one-line note instead of charts, never an error.
    """
    if env.prometheus is None or not env.charts.enabled:
        return ""
    deployed = deployed_at.timestamp() if deployed_at else None
    span = span_for(now, deployed, window, env.charts.rate_window, env.charts.points)
    prom = PromClient(env.prometheus)
    try:
        errors, q1 = error_rate_series(prom, env.prometheus.job, span)
        p95, q2 = p95_series(prom, env.prometheus.job, span)
    except TargetError as exc:
        return f'<p class="postdeploy-charts">Charts unavailable: {html.escape(str(exc))}</p>'
    except (TypeError, ValueError, KeyError) as exc:  # a malformed matrix: the report still gets written
        return f'<p class="postdeploy-charts">Charts unavailable: malformed range answer ({type(exc).__name__})</p>'
    finally:
        prom.close()
    th = env.thresholds
    charts = [
        svg_chart("Error rate (5xx + unhandled)", errors, span, deployed, th.error_rate, "{:.1f}%", 100.0, judged),
        svg_chart("p95 response time", p95, span, deployed, float(th.latency_p95), "{:.0f} ms", 1000.0, judged),
    ]
    queries = "".join(f"<li><code>{html.escape(q)}</code></li>" for q in {**q1, **q2}.values())
    return (
        '<div class="postdeploy-charts">'
        + "".join(charts)
        + f"<details><summary>Range queries (step {span.step:g}s, each point the rate over "
        f"{span.rate_window:g}s)</summary><ul>{queries}</ul></details></div>"
    )
