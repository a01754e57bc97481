"""Parsers and arithmetic, driven by hypothesis: durations, log lines, PromQL answers, redaction, rates."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postdeploy.checks.metrics import rate_of, window_since
from postdeploy.core.durations import parse_duration, promql_duration
from postdeploy.core.errors import BadResponse
from postdeploy.core.redaction import MASK, Secret, redact
from postdeploy.run.verdict import decide
from postdeploy.sources.logsource import LEVELS, normalise_level, parse_line, parse_lines, since
from postdeploy.sources.promql import parse_response, parse_vector

# -- durations ------------------------------------------------------------------------------


@given(h=st.integers(0, 48), m=st.integers(0, 59), s=st.integers(0, 59))
def test_duration_parts_add_up(h, m, s):
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + f"{s}s"
    assert parse_duration(text) == h * 3600 + m * 60 + s


@given(st.floats(min_value=0.001, max_value=1e7, allow_nan=False))
def test_promql_duration_never_shortens_the_window(seconds):
    out = promql_duration(seconds)
    assert out.endswith("s") and int(out[:-1]) >= seconds and int(out[:-1]) >= 1


@given(st.text(max_size=20))
def test_duration_garbage_raises_valueerror_only(text):
    try:
        assert parse_duration(text) >= 0
    except ValueError:
        pass


@pytest.mark.parametrize("text", ["nan", "NAN", "inf", "-inf", "Infinity", "1e999"])
def test_duration_rejects_non_finite_numbers(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


# -- log lines ------------------------------------------------------------------------------


@given(
    level=st.sampled_from(LEVELS),
    msg=st.text(min_size=1, max_size=60).filter(lambda t: "\n" not in t and "\r" not in t),
)
def test_json_and_text_lines_give_the_same_level(level, msg):
    import json

    js = json.dumps({"asctime": "2026-11-27 01:11:43", "name": "app.main", "levelname": level, "message": msg})
    text = f"2026-11-27 01:11:43 - app.main - {level} - {msg}"
    a, b = parse_line(js), parse_line(text)
    assert a.level == b.level == level
    assert a.ts == b.ts == datetime(2026, 11, 27, 1, 11, 43, tzinfo=UTC)


@given(st.text(max_size=200))
def test_any_line_parses_without_exception(raw):
    line = parse_line(raw)
    assert line.level in (None, *LEVELS)


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("warn", "WARNING"),
        ("Error", "ERROR"),
        ("FATAL", "CRITICAL"),
        ("info", "INFO"),
        ("nope", None),
        (3, None),
    ],
)
def test_level_aliases(raw, level):
    assert normalise_level(raw) == level


def test_uvicorn_and_docker_timestamps():
    line = parse_line("2026-11-27T01:11:43.123456789Z ERROR:    Exception in ASGI application")
    assert line.level == "ERROR"
    assert line.ts == datetime(2026, 11, 27, 1, 11, 43, 123456, tzinfo=UTC)


def test_traceback_lines_inherit_their_parents_time_and_since_filters():
    raw = [
        '{"asctime": "2026-11-27 01:00:00", "levelname": "ERROR", "message": "old"}',
        '{"asctime": "2026-11-27 01:05:00", "levelname": "INFO", "message": "Starting"}',
        "Traceback (most recent call last):",
    ]
    lines = list(parse_lines(raw))
    assert lines[2].ts == lines[1].ts
    kept = since(lines, datetime(2026, 11, 27, 1, 5, 0, 700000, tzinfo=UTC))
    assert [ln.message for ln in kept] == ["Starting", "Traceback (most recent call last):"]


# -- Prometheus answers ---------------------------------------------------------------------


def test_prometheus_error_payload_is_a_bad_response():
    with pytest.raises(BadResponse, match="bad_data: parse error"):
        parse_response({"status": "error", "errorType": "bad_data", "error": "parse error"}, "q")


def test_matrix_where_vector_was_due_is_a_bad_response():
    with pytest.raises(BadResponse, match="expected an instant vector, got matrix"):
        parse_vector({"resultType": "matrix", "result": []}, "q")


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5))
def test_vectors_round_trip(values):
    data = {
        "resultType": "vector",
        "result": [{"metric": {"i": str(i)}, "value": [1.0, repr(v)]} for i, v in enumerate(values)],
    }
    got = [s.value for s in parse_vector(data, "q")]
    assert len(got) == len(values)
    for a, b in zip(got, values, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == b


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=10,
    )
)
def test_garbage_payloads_raise_only_bad_response(payload):
    try:
        parse_vector(parse_response(payload, "q"), "q")
    except BadResponse:
        pass


# -- arithmetic -----------------------------------------------------------------------------


@given(req=st.integers(0, 10**9), e5=st.integers(0, 10**9), unhandled=st.integers(0, 10**9))
def test_error_rate_is_a_share(req, e5, unhandled):
    e5 = min(e5, req)
    r = rate_of(req, e5, unhandled)
    assert 0.0 <= r <= 1.0
    if unhandled > 0:
        assert r > 0  # unhandled exceptions always count, even with no 5xx at all


def test_error_rate_counts_unhandled_exceptions():
    assert rate_of(90, 0, 10) == pytest.approx(0.10)
    assert rate_of(0, 0, 0) == 0.0


@given(ago=st.floats(0, 1e6), longest=st.floats(1, 1e6))
def test_window_starts_at_the_deploy_but_never_exceeds_the_limit(ago, longest):
    now = 1_800_000_000.0
    deployed = datetime.fromtimestamp(now - ago, UTC)
    w = window_since(deployed, now, longest)
    assert 1.0 <= w.seconds <= max(longest, 1.0)
    assert w.seconds <= max(ago, 1.0) + 1e-6
    # The window starts at the deploy exactly when the deploy is within the limit.
    if abs(ago - longest) > 1e-3:
        assert (w.deployed_at is not None) == (ago < longest)


# -- redaction and verdicts -----------------------------------------------------------------


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40))
def test_registered_secrets_never_survive_redaction(value):
    Secret(value, "test")
    assert value not in redact(f"before {value} after")


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://amani:topsecret@db:5432/amani",
        "host=db password=topsecret dbname=amani",
        "Authorization: Bearer abcdefghijklmnop",
    ],
)
def test_credentials_in_urls_dsns_and_headers_are_masked(text):
    out = redact(text)
    assert "topsecret" not in out and "abcdefghijklmnop" not in out and MASK in out


def test_secret_refuses_to_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret("do-not-pickle-me", "test"))


@pytest.mark.parametrize(
    ("checks", "verdict"),
    [
        ([{"id": "a", "outcome": "passed", "severity": "critical"}], "success"),
        ([{"id": "a", "outcome": "failed", "severity": "minor"}], "success"),
        ([{"id": "a", "outcome": "failed", "severity": "major"}], "issues"),
        ([{"id": "a", "outcome": "inconclusive", "severity": "major"}], "issues"),
        ([{"id": "a", "outcome": "skipped", "severity": "critical"}], "success"),
        (
            [
                {"id": "a", "outcome": "failed", "severity": "major"},
                {"id": "b", "outcome": "error", "severity": "critical"},
            ],
            "rollback",
        ),
    ],
)
def test_verdict_from_severities(checks, verdict):
    assert decide(checks)[0] == verdict
