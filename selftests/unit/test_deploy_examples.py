"""The examples in deploy/ match their platforms' schemas and run only what exists.

Structure comes from the platforms' own schemas, not from this file: check-jsonschema's
vendored GitHub workflow and GitLab CI schemas, kubernetes-validate's Kubernetes schemas
(strict: an unknown field fails) for the CronJobs and for the Job the AnalysisTemplate
embeds, and the Argo Rollouts AnalysisTemplate CRD (selftests/contracts/, source noted).
What a schema cannot say is asserted here: the job runs the right phase, keeps its
reports, gates on `python -m postdeploy verdict reports/prod`, reads secrets from the
platform's secret store, and "what exists": every `pytest -m X` is a registered phase,
every `--env NAME` has its environments/NAME.toml, every long option is one the plugin
registers, every `python -m postdeploy SUB` is a real subcommand, every POSTDEPLOY_*
variable is one the plugin reads. No network, no sandbox.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from postdeploy import cli
from postdeploy.pytestplugin import plugin
from postdeploy.pytestplugin.markers import PHASES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
FILES = {
    "README.md",
    "github-actions.yml",
    "gitlab-ci.yml",
    "cron",
    "Dockerfile",
    "systemd/postdeploy-daily.service",
    "systemd/postdeploy-daily.timer",
    "systemd/postdeploy-weekly.service",
    "systemd/postdeploy-weekly.timer",
    "kubernetes/cronjob-daily.yaml",
    "kubernetes/cronjob-weekly.yaml",
    "kubernetes/analysis-template.yaml",
}
YAML_FILES = sorted(p for p in FILES if p.endswith((".yml", ".yaml")))
KUBERNETES_FILES = ["kubernetes/cronjob-daily.yaml", "kubernetes/cronjob-weekly.yaml"]
PYTEST_FLAGS = {flag for flag, *_ in plugin.OPTIONS.values()} | {"--allow-writes"}
PLUGIN_VARS = {var for _, _, var, _ in plugin.OPTIONS.values()}
# The variables environments/prod.toml reads its secrets from (password_env, token_env, ...).
SECRETS = sorted(
    re.findall(r'^\s*\w+_env\s*=\s*"(\w+)"', (ROOT / "environments/prod.toml").read_text(encoding="utf-8"), re.M)
)
SHELL_STOP = re.compile(r"^(\|\||&&|;|\||\d?>>?|\d?>&\d|<)")
# check-jsonschema's vendored schemas (offline) and its options, as its check-github-workflows
# and check-gitlab-ci pre-commit hooks run them (GitLab's `!reference` tags, ECMAScript regexes).
CI_SCHEMAS = {
    "github-actions.yml": ["--builtin-schema", "vendor.github-workflows"],
    "gitlab-ci.yml": [
        "--builtin-schema",
        "vendor.gitlab-ci",
        "--data-transform",
        "gitlab-ci",
        "--regex-variant",
        "nonunicode",
    ],
}
# The oldest Kubernetes the examples promise to run on (CronJob timeZone is GA since 1.27).
KUBERNETES = "1.30"
ARGO_SCHEMA = ROOT / "selftests" / "contracts" / "argo-rollouts-analysistemplate-subset.json"


def text(name: str) -> str:
    return (DEPLOY / name).read_text(encoding="utf-8")


def docs(name: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text(name)) if d is not None]


def ci_schema_problems(name: str, path: Path | None = None) -> str:
    """check-jsonschema's report on a CI file ('' when it is valid)."""
    target = path or DEPLOY / name
    cmd = [sys.executable, "-m", "check_jsonschema", "--color", "never", *CI_SCHEMAS[name], str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return "" if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()


def kubernetes_problems(doc: dict[str, Any]) -> list[str]:
    """What the Kubernetes schema of KUBERNETES (strict: no unknown field) says about one object."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path) or "(top)"
        return [f"{doc['kind']} {doc['metadata'].get('name')}: {where}: {e.message} (Kubernetes {e.version})"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [e.message]
    return []


def argo_problems(doc: dict[str, Any]) -> list[str]:
    """The AnalysisTemplate against the Argo Rollouts CRD, and each Job it embeds against Kubernetes'."""
    schema = json.loads(ARGO_SCHEMA.read_text(encoding="utf-8"))
    problems = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    if problems:
        return problems
    for metric in doc["spec"]["metrics"]:
        job = metric["provider"].get("job")
        if job:
            meta = {"name": metric["name"], **job.get("metadata", {})}
            problems += kubernetes_problems(
                {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": job["spec"]}
            )
    return problems


def dockerfile() -> dict[str, list[str]]:
    """Instruction -> its arguments, one entry per occurrence, continuation lines joined."""
    out: dict[str, list[str]] = {}
    joined = re.sub(r"\\\n", " ", text("Dockerfile"))
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.setdefault(word.upper(), []).append(rest.strip())
    return out


def image_entrypoint() -> list[str]:
    return json.loads(dockerfile()["ENTRYPOINT"][-1])


def subcommand_exists(name: str) -> bool:
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    return exc.value.code == 0


def command_problems(script: str) -> list[str]:
    """What is wrong with the pytest and postdeploy invocations in a shell script (one per line)."""
    problems = []
    for line in script.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        for i, word in enumerate(words):
            if Path(word).name == "pytest":
                args = []
                for arg in words[i + 1 :]:
                    if SHELL_STOP.match(arg):
                        break
                    args.append(arg)
                problems += pytest_problems(args, line)
            if Path(word).name.startswith("python") and words[i + 1 : i + 3] == ["-m", "postdeploy"]:
                sub = words[i + 3] if len(words) > i + 3 else ""
                if not subcommand_exists(sub):
                    problems.append(f"{line!r}: `python -m postdeploy {sub}` is no subcommand")
                for arg in words[i + 4 :]:
                    m = re.fullmatch(r"reports/(\w+)/latest", arg)
                    if m and not (ROOT / "environments" / f"{m[1]}.toml").is_file():
                        problems.append(f"{line!r}: {arg} names no environment")
    return problems


def pytest_problems(args: list[str], line: str) -> list[str]:
    problems = []
    values = {}
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, value = arg.partition("=")
        if flag == "-m" or flag.startswith("--"):
            if not eq and flag != "--allow-writes":
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            values[flag] = value
            if flag.startswith("--") and flag not in PYTEST_FLAGS:
                problems.append(f"{line!r}: pytest option {flag} is not registered by the plugin")
        i += 1
    if values.get("-m") not in PHASES:
        problems.append(f"{line!r}: -m {values.get('-m')!r} is not a phase ({', '.join(PHASES)})")
    env = values.get("--env")
    if not env or not (ROOT / "environments" / f"{env}.toml").is_file():
        problems.append(f"{line!r}: --env {env!r} has no environments/{env}.toml")
    return problems


def container_script(container: dict[str, Any]) -> str:
    """The command line a container runs: a `sh -c` script as is, else the image's ENTRYPOINT + args."""
    command = container.get("command") or image_entrypoint()
    args = container.get("args") or []
    if Path(command[0]).name in ("sh", "bash") and "-c" in command:
        rest = command[command.index("-c") + 1 :] + args
        return rest[0]
    return shlex.join([*command, *args])


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (metric,) = [m for m in doc["spec"]["metrics"] if "job" in m.get("provider", {})]
    return metric["provider"]["job"]["spec"]["template"]["spec"]


def test_deploy_holds_exactly_the_checked_files_and_the_readme_covers_each() -> None:
    found = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert found == FILES
    readme = text("README.md")
    for name in FILES - {"README.md"}:
        assert f"`{name}`" in readme, f"deploy/README.md says nothing about {name}"


def test_every_yaml_example_is_validated_by_a_schema() -> None:
    assert set(YAML_FILES) == set(CI_SCHEMAS) | set(KUBERNETES_FILES) | {"kubernetes/analysis-template.yaml"}


@pytest.mark.parametrize("name", sorted(CI_SCHEMAS))
def test_ci_file_matches_its_vendored_schema(name: str) -> None:
    problems = ci_schema_problems(name)
    assert not problems, f"deploy/{name} does not match its schema:\n{problems}"


@pytest.mark.parametrize("name", KUBERNETES_FILES)
def test_kubernetes_manifest_matches_the_kubernetes_schema(name: str) -> None:
    problems = [p for doc in docs(name) for p in kubernetes_problems(doc)]
    assert not problems, f"deploy/{name}: " + "; ".join(problems)


def test_analysis_template_matches_the_argo_rollouts_crd_and_its_job_the_kubernetes_schema() -> None:
    (doc,) = docs("kubernetes/analysis-template.yaml")
    problems = argo_problems(doc)
    assert not problems, "deploy/kubernetes/analysis-template.yaml: " + "; ".join(problems)


# A slip of the kind people make, in each validated file: the validator must refuse it.
BROKEN = [
    ("github-actions.yml", "runs-on: ubuntu-latest", "runs_on: ubuntu-latest", "'runs-on' is a required property"),
    ("gitlab-ci.yml", "when: always", "when: allways", "'allways' is not one of"),
    (
        "kubernetes/cronjob-daily.yaml",
        'args: ["-m", "daily", "--env", "prod"]',
        "args: -m daily --env prod",
        "is not of type 'array'",
    ),
    ("kubernetes/cronjob-weekly.yaml", "concurrencyPolicy:", "concurrency:", "Additional properties are not allowed"),
    (
        "kubernetes/analysis-template.yaml",
        "      provider:\n",
        "      providers:\n",
        "'provider' is a required property",
    ),
    ("kubernetes/analysis-template.yaml", "mountPath:", "mountpath:", "'mountPath' is a required property"),
]


@pytest.mark.parametrize("name, old, new, expected", BROKEN, ids=[f"{b[0]}:{b[2].strip()}" for b in BROKEN])
def test_the_validators_refuse_a_broken_example(name: str, old: str, new: str, expected: str, tmp_path: Path) -> None:
    source = text(name)
    assert source.count(old) == 1, f"deploy/{name} no longer holds {old!r}: update BROKEN"
    broken = source.replace(old, new)
    if name in CI_SCHEMAS:
        path = tmp_path / Path(name).name
        path.write_text(broken, encoding="utf-8")
        problems = ci_schema_problems(name, path)
    else:
        (doc,) = [d for d in yaml.safe_load_all(broken) if d is not None]
        check = argo_problems if doc["kind"] == "AnalysisTemplate" else kubernetes_problems
        problems = "\n".join(check(doc))
    assert expected in problems, problems or "accepted"


def test_github_actions_job_runs_checks_uploads_always_and_gates_on_the_verdict() -> None:
    (wf,) = docs("github-actions.yml")
    (job,) = wf["jobs"].values()
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses)
    (setup,) = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert str(setup["with"]["python-version"]) == "3.11"
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "reports"
    runs = [s["run"] for s in steps if "run" in s]
    assert any(r.strip() == "pip install ." for r in runs)
    (checks,) = [s for s in steps if "pytest" in s.get("run", "")]
    assert checks["continue-on-error"] is True
    assert "--expect-version" in checks["run"] and "--expect-commit" in checks["run"]
    (gate,) = [s for s in steps if "postdeploy verdict" in s.get("run", "")]
    assert "postdeploy verdict reports/prod " in gate["run"] and "reports/prod/latest" not in gate["run"]
    assert steps.index(gate) > steps.index(checks) and steps.index(gate) > steps.index(upload)
    # Rollback (2) must fail the step; issues (1) must not.
    assert re.search(r"^\s*2\).*exit [1-9]", gate["run"], re.M)
    assert not re.search(r"^\s*1\).*exit [1-9]", gate["run"], re.M)
    for name in SECRETS:
        assert re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}", job["env"][name]), f"{name} is not a secrets reference"
    assert not [p for r in runs for p in command_problems(r)]


def test_gitlab_job_keeps_artifacts_always_and_only_issues_are_allowed_to_fail() -> None:
    (ci,) = docs("gitlab-ci.yml")
    (job,) = [v for v in ci.values() if isinstance(v, dict) and "script" in v]
    assert job["artifacts"]["when"] == "always"
    assert [p.rstrip("/") for p in job["artifacts"]["paths"]] == ["reports"]
    assert job["allow_failure"] == {"exit_codes": [1]}
    script = job["script"]
    assert "pip install ." in script
    (checks,) = [s for s in script if "pytest" in s]
    assert checks.rstrip().endswith("|| true"), "a failing check must not end the job before the verdict"
    assert script[-1] == "python -m postdeploy verdict reports/prod", "not latest: a run that judged nothing must gate"
    assert not set(SECRETS) & set(job.get("variables", {})), "secrets belong in CI/CD variables, not the file"
    assert not [p for s in script for p in command_problems(s)]


@pytest.mark.parametrize("name", KUBERNETES_FILES)
def test_cronjob_runs_its_phase_once_at_a_time_with_the_secret(name: str) -> None:
    (doc,) = docs(name)
    assert (doc["apiVersion"], doc["kind"]) == ("batch/v1", "CronJob")
    assert len(doc["spec"]["schedule"].split()) == 5
    assert doc["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(doc)
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    (container,) = spec["containers"]
    assert {"secretRef": {"name": "postdeploy-prod"}} in container["envFrom"]
    assert not {e["name"] for e in container.get("env", [])} & set(SECRETS)
    script = container_script(container)
    assert Path(name).stem.removeprefix("cronjob-") in shlex.split(script)
    assert command_problems(script) == []


def test_analysis_template_job_runs_checks_then_fails_on_rollback() -> None:
    (doc,) = docs("kubernetes/analysis-template.yaml")
    spec = pod_spec(doc)
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert {"secretRef": {"name": "postdeploy-prod"}} in container["envFrom"]
    assert not {e["name"] for e in container.get("env", [])} & set(SECRETS)
    script = container_script(container)
    lines = [line.strip() for line in script.splitlines() if line.strip()]
    assert lines[0].startswith("pytest -m first15 --env prod")
    # The environment's folder, not its latest: a newer run that judged nothing exits 3 (issue 11).
    assert lines[1] == "python -m postdeploy verdict reports/prod"
    # The script must end with the verdict's code, so rollback (2) fails the Job.
    assert lines[-1] == 'exit "$code"'
    assert command_problems(script) == []
    declared = {a["name"] for a in doc["spec"].get("args", [])}
    assert set(re.findall(r"\{\{args\.([\w-]+)\}\}", text("kubernetes/analysis-template.yaml"))) <= declared


def test_dockerfile_builds_a_non_root_pytest_image_with_a_reports_volume() -> None:
    df = dockerfile()
    assert df["FROM"] == ["python:3.11-slim"]
    installs = [r for r in df["RUN"] if "pip install" in r]
    assert installs and not any("[" in r for r in installs), "the image installs no extras"
    assert df["USER"][-1] not in ("root", "0")
    assert any("/reports" in v for v in df["VOLUME"])
    assert image_entrypoint() == ["pytest"]
    cmd = json.loads(df["CMD"][-1])
    assert cmd == ["-m", "first15", "--env", "prod"]
    assert command_problems(shlex.join(image_entrypoint() + cmd)) == []
    # pytest in the image needs its rootdir, the env files and every test path, not only the package.
    copied = {source.rstrip("/") for c in df["COPY"] for source in c.split()[:-1]}
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    assert {"pyproject.toml", "README.md", "conftest.py", "environments", "postdeploy", *testpaths} <= copied


def test_crontab_lines() -> None:
    entry = re.compile(r"^(?P<when>(?:[\d*/,-]+\s+){5})(?P<command>\S.*)$")
    lines = [line for line in text("cron").splitlines() if line.strip() and not line.startswith("#")]
    phases = []
    for line in lines:
        m = entry.match(line)
        assert m, f"not a crontab line with 5 schedule fields: {line!r}"
        assert "cd /opt/postdeploy && .venv/bin/pytest -m " in m["command"]
        assert re.search(r">>\s*\S+\.log 2>&1$", m["command"]), f"output does not go to a log: {line!r}"
        assert command_problems(m["command"]) == []
        phases.append((m["when"].split(), shlex.split(m["command"].split("-m ", 1)[1])[0]))
    assert phases == [
        (["0", "*/3", "*", "*", "*"], "first_24h"),
        (["0", "7", "*", "*", "*"], "daily"),
        (["30", "7", "*", "*", "1"], "weekly"),
    ]


@pytest.mark.parametrize("phase", ["daily", "weekly"])
def test_systemd_units(phase: str) -> None:
    def unit(suffix: str) -> configparser.ConfigParser:
        parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(text(f"systemd/postdeploy-{phase}.{suffix}"))
        return parser

    service, timer = unit("service"), unit("timer")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["WorkingDirectory"] == "/opt/postdeploy"
    assert service["Service"]["EnvironmentFile"].lstrip("-").startswith("/")
    exec_start = service["Service"]["ExecStart"]
    assert shlex.split(exec_start)[:3] == ["/opt/postdeploy/.venv/bin/pytest", "-m", phase]
    assert command_problems(exec_start) == []
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_only_variables_the_plugin_reads() -> None:
    used = {v for name in FILES for v in re.findall(r"\bPOSTDEPLOY_[A-Z_]+", text(name))}
    assert used <= PLUGIN_VARS


@pytest.mark.parametrize(
    "script, wrong",
    [
        ("pytest -m nightly --env prod", "not a phase"),
        ("pytest -m daily --env moon", "environments/moon.toml"),
        ("pytest -m daily --env prod --expect-versoin 1", "--expect-versoin"),
        ("python -m postdeploy verdikt", "no subcommand"),
    ],
)
def test_the_command_check_catches_what_does_not_exist(script: str, wrong: str) -> None:
    problems = command_problems(script)
    assert problems and wrong in problems[0]
