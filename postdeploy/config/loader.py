"""Environments: `environments/NAME.toml` resolved into one frozen, validated object.

Rules the loader enforces, each failure a `ConfigError` naming the file and the key:
- unknown keys are errors (a typo must not silently fall back to a default);
- secrets are never values in the file: a secret field `password` is given as
  `password_env = "VAR"` (an environment variable) or `password_file = "path"`
  (a mounted secret, as Docker and Kubernetes provide them);
- `${env:VAR}` in a string reads a non-secret environment variable, `${state:key}`
  reads a key of the JSON file named by the top-level `state_file` (the local
  sandbox writes its ports there).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from postdeploy.config.environment import Environment
from postdeploy.config.units import Duration
from postdeploy.core.durations import parse_duration
from postdeploy.core.errors import ConfigError
from postdeploy.core.redaction import Secret

ENV_VAR = "POSTDEPLOY_ENV"
ENV_DIR_VAR = "POSTDEPLOY_ENV_DIR"

_SECRET_SUFFIXES = ("_env", "_file")
_REF = re.compile(r"\$\{(env|state):([A-Za-z0-9_.-]+)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_SCALARS = (str, int, float, bool)

# A converter turns one TOML value (strings already interpolated) into a field's type.
Converter = Callable[[Any, object, str], Any]


def environments_dir(root: Path | None = None) -> Path:
    """Return the folder holding the environment files."""
    if os.environ.get(ENV_DIR_VAR):
        return Path(os.environ[ENV_DIR_VAR])
    return (root or Path.cwd()) / "environments"


def available(root: Path | None = None) -> list[str]:
    """Return the names of the environments that have a file."""
    folder = environments_dir(root)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_environment(name: str, root: Path | None = None, *, source: str = "--env") -> Environment:
    """Load and validate `environments/<name>.toml`; every problem is one `ConfigError` line."""
    if not _NAME.match(name or ""):
        raise ConfigError(f"invalid environment name {name!r} from {source}")
    folder = environments_dir(root)
    path = folder / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(available(root)) or "none"
        raise ConfigError(f"unknown environment {name!r} from {source}: no file {path} (known: {known})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    loader = _Loader(path, raw.get("state_file"))
    return loader.build(Environment, {**raw, "name": name, "path": str(path)}, "")


class _Loader:
    """Builds the configuration dataclasses from TOML tables, resolving references and secrets."""

    def __init__(self, path: Path, state_file: object) -> None:
        self.path = path
        self._state_file = state_file
        self._state: dict[str, Any] | None = None

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")

    # -- tables ---------------------------------------------------------------------------

    def build(self, cls: type, table: object, where: str) -> Any:
        if not isinstance(table, dict):
            raise self.fail(where, f"must be a table, got {type(table).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in table.items():
            self.set_key(kwargs, hints, fields, key, value, f"{where}.{key}" if where else key)
        self.require(kwargs, hints, fields, where)
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise self.fail(where or "(top level)", str(exc)) from None

    def set_key(
        self,
        kwargs: dict[str, Any],
        hints: dict[str, Any],
        fields: dict[str, dataclasses.Field[Any]],
        key: str,
        value: object,
        here: str,
    ) -> None:
        """Convert one key of a table into kwargs: a secret reference, a plain value, or an error."""
        base = next((key[: -len(s)] for s in _SECRET_SUFFIXES if key.endswith(s)), None)
        if base in fields and _is_secret(hints[base]):
            if base in kwargs:
                raise self.fail(here, f"{base} given twice")
            kwargs[base] = self.secret(key, value, here)
        elif key in fields and _is_secret(hints[key]):
            raise self.fail(here, f'secrets are not values in the file: use {key}_env = "VAR" or {key}_file = "path"')
        elif key in fields:
            kwargs[key] = self.convert(hints[key], value, here)
        else:
            raise self.fail(here, f"unknown key (valid here: {', '.join(sorted(fields))})")

    def require(
        self, kwargs: dict[str, Any], hints: dict[str, Any], fields: dict[str, dataclasses.Field[Any]], where: str
    ) -> None:
        """Fail on the first field without a default that the table left out."""
        for name, f in fields.items():
            if name in kwargs or f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            here = f"{where}.{name}" if where else name
            if _is_secret(hints[name]):
                raise self.fail(here, f"missing secret: set {name}_env or {name}_file")
            raise self.fail(here, "missing required key")

    # -- values: one converter per kind of field type -----------------------------------------

    def convert(self, hint: Any, value: object, where: str) -> Any:
        if isinstance(value, str):
            value = self.interpolate(value, where)
        return self.converter(hint)(hint, value, where)

    def converter(self, hint: Any) -> Converter:
        """Pick the converter for a field's type hint."""
        origin = typing.get_origin(hint)
        if origin in (types.UnionType, typing.Union):
            return self.optional
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.build
        if hint is Duration:
            return self.duration
        if origin is list:
            args = typing.get_args(hint)
            if args and dataclasses.is_dataclass(args[0]):
                return self.tables
            return self.numbers if args == (float,) else self.strings
        if origin is dict:
            return self.mapping
        if hint in _SCALARS:
            return self.scalar
        return self.unsupported

    def optional(self, hint: Any, value: object, where: str) -> Any:
        """`X | None`: a value present in the file is an X."""
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return self.convert(inner[0], value, where)

    def duration(self, hint: Any, value: object, where: str) -> Duration:
        try:
            return Duration(parse_duration(value))  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def tables(self, hint: Any, value: object, where: str) -> list[Any]:
        """A list of dataclasses: `[[...]]` tables in TOML."""
        if not isinstance(value, list):
            raise self.fail(where, "must be a list of tables ([[...]] in TOML)")
        cls = typing.get_args(hint)[0]
        return [self.build(cls, v, f"{where}[{i}]") for i, v in enumerate(value)]

    def numbers(self, hint: Any, value: object, where: str) -> list[float]:
        if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise self.fail(where, "must be a list of numbers")
        return [float(v) for v in value]

    def strings(self, hint: Any, value: object, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "must be a list of strings")
        return [self.interpolate(v, where) for v in value]

    def mapping(self, hint: Any, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, got {type(value).__name__}")
        return {k: self.interpolate(v, f"{where}.{k}") if isinstance(v, str) else v for k, v in value.items()}

    def scalar(self, hint: Any, value: object, where: str) -> Any:
        """str, int, float (an int is accepted) or bool; a `url` key must carry a scheme."""
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if type(value) is not hint:
            raise self.fail(where, f"must be {hint.__name__}, got {type(value).__name__} {value!r}")
        if isinstance(value, str) and where.endswith(("url", "_url")) and value and "://" not in value:
            raise self.fail(where, f"URL without a scheme: {value!r} (write http:// or https://)")
        return value

    def unsupported(self, hint: Any, value: object, where: str) -> Any:  # pragma: no cover - a bug in the schema
        raise self.fail(where, f"unsupported type {hint}")

    # -- secrets and references -----------------------------------------------------------------

    def secret(self, key: str, value: object, where: str) -> Secret:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must name an environment variable or a file")
        if key.endswith("_env"):
            got = os.environ.get(value)
            if not got:
                raise self.fail(where, f"missing secret: environment variable {value} is not set")
            return Secret(got, f"${value}")
        path = self.relative(self.interpolate_env(value, where))
        try:
            got = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise self.fail(where, f"missing secret: cannot read {path}: {exc.strerror}") from None
        if not got:
            raise self.fail(where, f"missing secret: {path} is empty")
        return Secret(got, str(path))

    def relative(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else (self.path.parent / p).resolve()

    def interpolate(self, text: str, where: str) -> str:
        def one(m: re.Match[str]) -> str:
            kind, key, default = m[1], m[2], m[3]
            if kind == "env":
                if os.environ.get(key):
                    return os.environ[key]
                if default is not None:
                    return default
                raise self.fail(where, f"environment variable {key} is not set")
            state = self.state(where)
            if state.get(key) is None and default is not None:
                # ${state:key:-default}: a key the sandbox leaves out (or null) in some set-ups.
                return default
            if key not in state:
                raise self.fail(where, f"state file has no key {key!r}")
            return str(state[key])

        return _REF.sub(one, text)

    def interpolate_env(self, text: str, where: str) -> str:
        if "${state:" in text:
            raise self.fail(where, "cannot use ${state:...} itself")
        return self.interpolate(text, where)

    def state(self, where: str) -> dict[str, Any]:
        if self._state is None:
            if not isinstance(self._state_file, str) or not self._state_file:
                raise self.fail(where, "uses ${state:...} but the file sets no state_file")
            path = self.relative(self.interpolate_env(self._state_file, "state_file"))
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise self.fail(
                    where, f"state file {path} not found: is the sandbox up? (python -m sandbox up)"
                ) from None
            except (OSError, ValueError) as exc:
                raise self.fail(where, f"cannot read state file {path}: {exc}") from None
            if not isinstance(data, dict):
                raise self.fail(where, f"state file {path} is not a JSON object")
            self._state = data
        return self._state


def _is_secret(hint: Any) -> bool:
    return hint is Secret or (
        typing.get_origin(hint) in (types.UnionType, typing.Union) and Secret in typing.get_args(hint)
    )
