"""Charts for the HTML report: error rate and p95 over the checked window, the deploy marked.

The series come from range queries (`query_range`) on the same PromQL the first15 checks
judge (postdeploy.checks.metrics builds both), in their `increase()`/`rate()` form so each
point is the rate over `[charts] rate_window`. The output is inline SVG: the report stays
one self-contained file that opens without network or JavaScript.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from postdeploy.checks.metrics import Window, error_rate_queries, latency_queries, rate_of
from postdeploy.config import Environment
from postdeploy.core.durations import promql_duration
from postdeploy.core.errors import TargetError
from postdeploy.outputs import templating
from postdeploy.sources.promql import PromClient, Series, range_step

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

    deploy = None
    if deployed_at is not None and span.start <= deployed_at <= span.end:
        dx = x(deployed_at)
        # The label stays inside the chart: left of the line when the deploy is near the right edge.
        lx, anchor = (dx - 3, "end") if dx > LEFT + 0.75 * w else (dx + 3, "start")
        deploy = {"x": dx, "label_x": lx, "anchor": anchor, "clock": _clock(deployed_at)}
    ticks = [(0.0, "start"), (0.5, "middle"), (1.0, "end")]
    return templating.render(
        "chart.svg.j2",
        title=title,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=LEFT + w,
        top=TOP,
        bottom=TOP + h,
        # The stretch the checks judged (the window since the deploy, capped): shaded.
        judged={"x": x(max(span.start, span.end - judged)), "span": promql_duration(judged)} if judged > 0 else None,
        y_ticks=[{"y": y(top * f), "text": fmt.format(top * f * scale)} for f, _ in ticks],
        x_ticks=[
            {"x": x(t), "anchor": anchor, "text": _clock(t)}
            for t, anchor in ((span.start + (span.end - span.start) * f, a) for f, a in ticks)
        ],
        threshold={"y": y(threshold), "text": fmt.format(threshold * scale)},
        deploy=deploy,
        points=[(x(t), y(v)) for t, v in points],
    )


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
        return templating.render("charts.html.j2", unavailable=str(exc))
    except (TypeError, ValueError, KeyError) as exc:  # a malformed matrix: the report still gets written
        return templating.render("charts.html.j2", unavailable=f"malformed range answer ({type(exc).__name__})")
    finally:
        prom.close()
    th = env.thresholds
    charts = [
        svg_chart("Error rate (5xx + unhandled)", errors, span, deployed, th.error_rate, "{:.1f}%", 100.0, judged),
        svg_chart("p95 response time", p95, span, deployed, float(th.latency_p95), "{:.0f} ms", 1000.0, judged),
    ]
    return templating.render(
        "charts.html.j2",
        unavailable="",
        charts=charts,
        step=span.step,
        rate_window=span.rate_window,
        queries=list({**q1, **q2}.values()),
    )
