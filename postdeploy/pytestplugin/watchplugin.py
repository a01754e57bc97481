"""Plugin glue of `--watch` (the decision itself is postdeploy/outputs/watch.py).

Registered by plugin.py only when a watch is asked for. The phase's watched checks (the
catalog's `watched`) run after every other check of the run; the first of them runs the
watch, each judges the watch's final result for its check. first15's checks are evaluated
by the same library functions over [deploy, now] (the error rate's counts feed the
sequential test); the later phases' tests are called again as they are (rerun.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from postdeploy import catalog
from postdeploy.checks import logs as log_checks
from postdeploy.checks import metrics
from postdeploy.checks import sentry as sentry_checks
from postdeploy.config import Environment
from postdeploy.core.durations import human, parse_duration
from postdeploy.core.results import Result
from postdeploy.outputs import watch, watchview
from postdeploy.pytestplugin import markers, rerun
from postdeploy.pytestplugin.state import RunState, snapshot
from postdeploy.run.record import write
from postdeploy.sources.watchtraffic import Traffic, over_limit, parse_rate

OPTIONS = {
    "watch": (
        "--watch",
        "postdeploy_watch",
        "POSTDEPLOY_WATCH",
        "watch the phase's metric, log and Sentry checks for this long after the deploy, e.g. 15m",
    ),
    "watch_interval": (
        "--watch-interval",
        "postdeploy_watch_interval",
        "POSTDEPLOY_WATCH_INTERVAL",
        "how often the watch evaluates (default: [watch] interval, 10s, or the window / 120 when longer)",
    ),
    "watch_traffic": (
        "--watch-traffic",
        "postdeploy_watch_traffic",
        "POSTDEPLOY_WATCH_TRAFFIC",
        "during the watch, send paced GETs to [watch] traffic_endpoints, e.g. 2/s",
    ),
}


NOTHING_TO_WATCH = "every watched check is blocked by a root check or not configured (each says so)"
# The phases whose windows slide (the last 24 h, the last 7 d): their watch counts from its own start.
FROM_START = ("daily", "weekly")


@dataclass(frozen=True)
class Settings:
    window: float
    interval: float
    traffic: float | None
    traffic_label: str
    phase: str
    ids: tuple[str, ...]  # the phase's watched checks (catalog order)


# Evaluations a long watch makes at most when no --watch-interval is given.
EVALUATIONS = 120


def default_interval(configured: float, window: float) -> float:
    """[watch] interval, or longer for a long window: a 24 h watch every 12 min, not every 10 s
    (each evaluation reads the whole window, scans the logs since the deploy, asks Sentry)."""
    return max(configured, window / EVALUATIONS)


def _phase_ids(phase: str) -> tuple[str, ...]:
    """The phase's watched checks; a usage error for a run that is not one watchable phase."""
    watchable = [p for p in catalog.PHASES if catalog.watched(p)]
    ids = catalog.watched(phase) if phase in catalog.PHASES else ()
    if not ids:
        what = (
            f"--watch: phase {phase} has no watched checks" if phase in catalog.PHASES else "--watch watches one phase"
        )
        raise pytest.UsageError(f"{what}: run it with -m {', '.join(watchable[:-1])} or -m {watchable[-1]}")
    return ids


def configure(config: pytest.Config, state: RunState, setting: Callable[[pytest.Config, str], tuple[Any, str]]) -> None:
    """Parse the watch options (one-line usage errors) and register the glue; nothing without --watch."""
    raw, source = setting(config, "watch")
    interval_raw, interval_source = setting(config, "watch_interval")
    traffic_raw, traffic_source = setting(config, "watch_traffic")
    if not raw:
        for value, src, flag in (
            (interval_raw, interval_source, "--watch-interval"),
            (traffic_raw, traffic_source, "--watch-traffic"),
        ):
            if value:
                raise pytest.UsageError(
                    f"{flag} from {src} needs --watch DURATION (how long to watch after the deploy)"
                )
        return
    assert state.env is not None
    env = state.env
    ids = _phase_ids(state.phase)
    try:
        window = parse_duration(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"invalid --watch {raw!r} from {source}: {exc}") from None
    try:
        interval = parse_duration(interval_raw) if interval_raw else default_interval(float(env.watch.interval), window)
    except ValueError as exc:
        raise pytest.UsageError(f"invalid --watch-interval {interval_raw!r} from {interval_source}: {exc}") from None
    if window <= 0 or interval <= 0:
        raise pytest.UsageError(f"--watch and --watch-interval must be positive durations (got {raw!r}, {interval:g}s)")
    interval = min(interval, window)
    rate = None
    if traffic_raw:
        try:
            rate = parse_rate(traffic_raw)
        except ValueError as exc:
            raise pytest.UsageError(f"invalid --watch-traffic from {traffic_source}: {exc}") from None
        too_fast = over_limit(rate, env.api.rate_limit)
        if too_fast:
            raise pytest.UsageError(f"invalid --watch-traffic from {traffic_source}: {too_fast}")
        if not env.watch.traffic_endpoints:
            raise pytest.UsageError(
                f"--watch-traffic needs side-effect-free GET paths: add [watch] traffic_endpoints = "
                f'["/api/v1/ping"] to {env.path}'
            )
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "--watch runs in one process and cannot be combined with -n: leave out -n (the one-shot checks "
            "are few; the watch itself waits on time, not on CPU)"
        )
    config.pluginmanager.register(
        WatchPlugin(state, Settings(window, interval, rate, traffic_raw or "", state.phase, ids)), "postdeploy-watch"
    )


def _client(request: pytest.FixtureRequest, name: str) -> Any:
    """The run's client fixture `name`, or None when it is not configured (that check reports it itself)."""
    try:
        return request.getfixturevalue(name)
    except pytest.skip.Exception:
        return None


def _policy(target: Environment) -> watch.Policy:
    """The watch's decision rule from the environment's thresholds and [watch] section."""
    th = target.thresholds
    return watch.Policy(
        major=th.error_rate,
        rollback=th.error_rate_rollback,
        alpha=target.watch.alpha,
        beta=target.watch.beta,
        margin=target.watch.margin,
        latency_p95=float(th.latency_p95),
        min_requests=th.min_requests,
        min_latency_requests=target.watch.min_latency_requests or th.min_requests,
        confirm=target.watch.confirm,
    )


def _check_id(item: pytest.Item) -> str:
    meta = markers.check_meta(item)
    return str(meta["id"]) if meta else ""


class WatchPlugin:
    def __init__(self, state: RunState, settings: Settings) -> None:
        self.state = state
        self.settings = settings
        self.watched: set[str] = set()
        self.items: list[pytest.Item] = []
        self.outcome: watch.Outcome | None = None
        self.final: dict[str, Result] | None = None
        self.failure: str = ""
        self._started = False

    # -- collection: the watched checks last ------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        ids = self.settings.ids
        items.sort(key=lambda item: _check_id(item) in ids)  # stable: the rest keep their order
        self.watched = {_check_id(i) for i in items} & set(ids)
        self.items = [i for i in items if _check_id(i) in ids]
        if not self.watched and items and not config.option.collectonly:
            raise pytest.UsageError(
                f"--watch: none of the selected checks of phase {self.state.phase} can be watched "
                f"(its watched checks are {', '.join(ids)})"
            )

    # -- the watch, run by the first watched check ----------------------------------------
    @pytest.fixture(autouse=True)
    def _postdeploy_watch(self, request: pytest.FixtureRequest) -> Iterator[None]:
        cid = _check_id(request.node)
        if cid not in self.settings.ids:
            yield
            return
        try:
            judge = request.getfixturevalue("check")  # a blocked check skips here, before any watch
        except pytest.skip.Exception:
            if not self._started and request.node is self.items[-1]:
                self._not_run(NOTHING_TO_WATCH)
            raise
        if not self._started:
            self._started = True
            self._run(request)
        if self.failure:
            pytest.fail(self.failure, pytrace=False)
        final = (self.final or {}).get(cid)
        if final is not None:
            original = judge.judge

            def judged(result: Result) -> None:
                __tracebackhide__ = True
                # The watch's result, with what the check itself added (diagnostics) kept.
                extra = {k: v for k, v in result.evidence.items() if k not in final.evidence}
                final.evidence.update(extra)
                original(final)

            judge.judge = judged
        yield

    def _run(self, request: pytest.FixtureRequest) -> None:
        s = self.settings
        target = request.getfixturevalue("target")
        probe: Callable[[float], dict[str, Result]] | None
        if s.phase in FROM_START:
            start, anchor = time.time(), "the start of the watch"
            probe = self._rerun_probe(request, target)
        else:
            deployment = request.getfixturevalue("deployment")
            if deployment.deployed_at is None and "process" in self.state.gates:
                # deploy.running failed: that root says why once; the checks run once, as without --watch.
                self._not_run(f"no deploy time: {self.state.gates['process'][0]} failed")
                return
            if deployment.deployed_at is None:
                self.failure = (
                    "--watch needs the deploy time: pass --deployed-at, or configure [runtime] so that the "
                    "release's start time can be read"
                )
                return
            start, anchor = deployment.deployed_at.timestamp(), "the deploy"
            if s.phase == "first15":
                probe = self._probe(request, target, deployment.deployed_at)
            else:
                probe = self._rerun_probe(request, target)
        if probe is None:
            self._not_run(NOTHING_TO_WATCH)
            return
        traffic = None
        if s.traffic:
            traffic = Traffic(target.api, target.watch.traffic_endpoints, s.traffic, s.traffic_label).start()
        self.outcome = self._watch(request.config, probe, _policy(target), start, anchor, traffic)
        self._keep(self.outcome)
        self.final = watch.final_results(self.outcome, watchview.ending(self.outcome.to_json()))

    def _rerun_probe(
        self, request: pytest.FixtureRequest, target: Environment
    ) -> Callable[[float], dict[str, Result]] | None:
        """One evaluation of the later phases' watched checks: their tests called again (rerun.py);
        None when none of them can be."""
        found = [rerun.prepare(i, request.getfixturevalue, target, self.state.gates) for i in self.items]
        reruns = [r for r in found if r is not None]
        if not reruns:
            return None

        def probe(now: float) -> dict[str, Result]:
            return {r.check_id: r.evaluate(request.getfixturevalue) for r in reruns}

        return probe

    def _probe(
        self, request: pytest.FixtureRequest, target: Environment, deployed_at: datetime
    ) -> Callable[[float], dict[str, Result]]:
        """One evaluation of the watched checks over [deploy, now], through the run's clients."""
        # Past its close the window still starts at the deploy (window_since caps at `longest`).
        longest = max(float(target.windows.first15), self.settings.window) + max(60.0, self.settings.interval)
        th = target.thresholds
        prom = _client(request, "prom") if self.watched & {"error_rate", "latency.p95"} else None
        logs = _client(request, "logs") if "logs.clean" in self.watched else None
        sentry = _client(request, "sentry") if "sentry.new" in self.watched else None

        def probe(now: float) -> dict[str, Result]:
            window = metrics.window_since(deployed_at, now, longest)
            out: dict[str, Result] = {}
            if prom is not None and target.prometheus is not None:
                job = target.prometheus.job
                if "error_rate" in self.watched:
                    out["error_rate"] = metrics.error_rate(prom, job, window, th)
                if "latency.p95" in self.watched:
                    out["latency.p95"] = metrics.latency_p95(prom, job, window, th)
            if logs is not None:
                out["logs.clean"] = log_checks.clean(logs, deployed_at)
            if sentry is not None:
                out["sentry.new"] = sentry_checks.new_issues(sentry, deployed_at, longest)
            return out

        return probe

    def _watch(
        self,
        config: pytest.Config,
        probe: Callable[[float], dict[str, Result]],
        policy: watch.Policy,
        start: float,
        anchor: str,
        traffic: Traffic | None,
    ) -> watch.Outcome:
        """Evaluate until the watch decides; every evaluation is kept in the record as it comes."""
        s = self.settings
        progress = Progress(config)
        holder: list[watch.Outcome] = []

        def on_evaluation(out: watch.Outcome, ev: watch.Evaluation) -> None:
            if not holder:
                holder.append(out)
            if traffic is not None:
                out.traffic = traffic.summary()
            self._keep(out)
            progress.show(out, ev)

        try:
            return watch.run(
                probe,
                policy,
                deployed_at=start,
                anchor=anchor,
                window=s.window,
                interval=s.interval,
                on_evaluation=on_evaluation,
                ours=(lambda: traffic.sent) if traffic is not None else (lambda: 0),
            )
        except KeyboardInterrupt:
            if holder:
                self._keep(holder[0])
            else:
                self._keep_raw({"status": "interrupted", "window_s": s.window, "evaluations": []})
            raise
        finally:
            if traffic is not None:
                traffic.stop()
                if holder:
                    holder[0].traffic = traffic.summary()
            progress.done()

    # -- the record keeps the watch --------------------------------------------------------
    def _not_run(self, reason: str) -> None:
        self._keep_raw({"status": "not run", "reason": reason, "window_s": self.settings.window, "evaluations": []})

    def _keep(self, out: watch.Outcome) -> None:
        self._keep_raw(out.to_json())

    def _keep_raw(self, data: dict[str, Any]) -> None:
        state = self.state
        if state.record is None:
            return
        state.record.extra["watch"] = json.loads(json.dumps(data, default=str))
        if state.run_dir is not None:
            # Written at every evaluation: a killed watch still says what it saw.
            write(state.run_dir, snapshot(state, finished=False), latest=False)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        data = self.state.record.extra.get("watch") if self.state.record is not None else None
        if data:
            terminalreporter.write_line(f"watch: {watchview.ending(data)}")
            traffic = data.get("traffic") or {}
            if traffic:
                terminalreporter.write_line(
                    f"watch traffic (ours, apart from users'): {traffic['sent']} GETs at {traffic['rate']}, "
                    f"{traffic['failed']} failed"
                )


class Progress:
    """Live progress: one updating line on a terminal, one line per evaluation otherwise; silent under -q."""

    def __init__(self, config: pytest.Config) -> None:
        self.tr = config.pluginmanager.getplugin("terminalreporter")
        self.capman = config.pluginmanager.getplugin("capturemanager")
        self.quiet = config.option.verbose < 0 or self.tr is None
        self.tty = bool(self.tr is not None and self.tr.isatty())
        self.shown = False
        self.started = time.monotonic()

    def _out(self, fn: Callable[[], None]) -> None:
        if self.capman is not None:
            with self.capman.global_and_fixture_disabled():
                fn()
        else:  # pragma: no cover - pytest always has a capture manager
            fn()

    def show(self, out: watch.Outcome, ev: watch.Evaluation) -> None:
        if self.quiet:
            return
        line = watchview.progress_line(out, ev)

        def write() -> None:
            if not self.shown:
                self.tr.ensure_newline()
                self.tr.write_line(
                    f"watch: {human(out.window)} from {out.anchor}, every {human(out.interval)} "
                    f"(Ctrl-C stops it: the record says incomplete)"
                )
            if self.tty:
                self.tr.rewrite(line, erase=True)
            else:
                self.tr.write_line(line)

        self._out(write)
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty and not self.quiet:
            self._out(lambda: self.tr.write_line(""))
