"""Environment files: validation, secrets, references, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postdeploy.config import load_environment
from postdeploy.core.errors import ConfigError

MINIMAL = """
[api]
base_url = "http://127.0.0.1:1"
"""


def write_env(root: Path, name: str, text: str) -> Path:
    folder = root / "environments"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def load(root: Path, text: str, name: str = "t"):
    write_env(root, name, text)
    return load_environment(name, root)


def test_minimal_file_gets_the_guides_defaults(tmp_path):
    env = load(tmp_path, MINIMAL)
    assert env.api.base_url == "http://127.0.0.1:1"
    assert env.thresholds.error_rate == 0.01
    assert env.thresholds.latency_p95 == 0.5
    assert env.wait.attempts * env.wait.interval == 150  # 30 x 5 s
    assert env.prometheus is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (MINIMAL + "colour = 'blue'\n", "colour: unknown key"),
        (MINIMAL.replace("base_url", "baseurl"), "api.baseurl: unknown key"),
        ("[api]\n", "api.base_url: missing required key"),
        (MINIMAL + "[thresholds]\nerror_rate = 'high'\n", "thresholds.error_rate: must be float"),
        (MINIMAL + "[windows]\nfirst15 = 'soon'\n", "not a duration"),
        ("[api]\nbase_url = 'api.amani.com'\n", "URL without a scheme"),
        ("[api\n", "not valid TOML"),
        (MINIMAL + "[api.user]\nemail='a@b'\npassword='hunter2'\n", "secrets are not values in the file"),
        (MINIMAL + "[api.user]\nemail='a@b'\n", "missing secret"),
        (
            MINIMAL + "[api.user]\nemail='a@b'\npassword_env='PD_NOPE_UNSET'\n",
            "environment variable PD_NOPE_UNSET is not set",
        ),
        ("[api]\nbase_url='${state:api_url}'\n", "sets no state_file"),
        ("state_file='missing.json'\n[api]\nbase_url='${state:api_url}'\n", "is the sandbox up?"),
    ],
)
def test_bad_files_give_one_line_naming_file_and_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message
    assert "t.toml" in message


def test_unknown_environment_lists_the_known_ones(tmp_path):
    write_env(tmp_path, "staging", MINIMAL)
    with pytest.raises(ConfigError, match=r"unknown environment 'prod'.*known: staging"):
        load_environment("prod", tmp_path)


def test_secret_from_env_is_redacted_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("PD_TEST_PW", "canary-pw-1234567")
    env = load(tmp_path, MINIMAL + "[api.user]\nemail='a@b'\npassword_env='PD_TEST_PW'\n")
    assert env.api.user.password.reveal() == "canary-pw-1234567"
    assert "canary" not in repr(env)
    assert "canary" not in str(env.api.user)


def test_secret_from_file_and_state_references(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"api_url": "http://127.0.0.1:4242", "job": "amani"}))
    (tmp_path / "pw").write_text("s3cret-from-file\n")
    env = load(
        tmp_path,
        "state_file = '../state.json'\n[api]\nbase_url='${state:api_url}'\n"
        "[api.user]\nemail='a@b'\npassword_file='../pw'\n"
        "[prometheus]\nurl='http://127.0.0.1:9'\njob='${state:job}'\n",
    )
    assert env.api.base_url == "http://127.0.0.1:4242"
    assert env.prometheus.job == "amani"
    assert env.api.user.password.reveal() == "s3cret-from-file"


def test_env_reference_with_default(tmp_path, monkeypatch):
    monkeypatch.delenv("PD_BASE", raising=False)
    env = load(tmp_path, "[api]\nbase_url='${env:PD_BASE:-http://127.0.0.1:7}'\n")
    assert env.api.base_url == "http://127.0.0.1:7"
    monkeypatch.setenv("PD_BASE", "http://127.0.0.1:8")
    assert load(tmp_path, "[api]\nbase_url='${env:PD_BASE:-http://127.0.0.1:7}'\n").api.base_url.endswith(":8")


def test_targets_never_show_the_database_password(tmp_path):
    env = load(tmp_path, MINIMAL + "[database]\ndsn='host=h user=u password=leaky dbname=d'\n")
    assert "leaky" not in str(env.targets())


def test_shipped_environment_files_validate(monkeypatch):
    root = Path(__file__).resolve().parents[2]
    for var in (
        "AMANI_TEST_PASSWORD",
        "AMANI_DB_PASSWORD",
        "SENTRY_AUTH_TOKEN",
        "AMANI_STAGING_TEST_PASSWORD",
        "AMANI_STAGING_PROM_TOKEN",
        "AMANI_STAGING_DB_PASSWORD",
    ):
        monkeypatch.setenv(var, f"placeholder-{var}")
    for name in ("staging", "prod"):
        env = load_environment(name, root)
        assert env.api.base_url.startswith("https://")
    assert load_environment("prod", root).writes_allowed is False


def test_baseline_offset_is_one_day_or_one_week(tmp_path):
    """Item 22's fallback compares with the same window 1d or 1w ago; anything else is a config error."""
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "bad.toml").write_text(
        '[api]\nbase_url = "https://x.invalid"\n[baseline]\noffset = "3h"\n'
    )
    with pytest.raises(ConfigError, match=r"offset must be 1d or 1w, got .3h."):
        load_environment("bad", tmp_path)
