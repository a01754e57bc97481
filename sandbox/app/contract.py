"""The reference service's OpenAPI document, which the sandbox serves and routes by.

``contract/amani-openapi.json`` is the real service's own ``/openapi.json`` (see
``contract/README.md``). The app routes every operation in it: the ones the sandbox really
implements get their handler, the others answer as the real service does to a request
without credentials (403/401) or with a body its schema rejects (422 ``VALIDATION_ERROR``),
and 501 to a request it would have served.

``body_problem`` is a small validator for those 422s (required fields, JSON types, enums,
string lengths and patterns, numeric bounds, ``anyOf``/``allOf``): the sandbox's runtime needs
no schema library; the self-tests check answers with ``jsonschema``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import uuid
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).resolve().parent.parent / "contract" / "amani-openapi.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@functools.cache
def document() -> dict[str, Any]:
    """The contract as parsed JSON (callers must not mutate it: use ``served``)."""
    data: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return data


def served(without: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The document the app serves, minus the paths a fault takes away."""
    data = copy.deepcopy(document())
    for path in without:
        data["paths"].pop(path, None)
    return data


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation of the contract."""
    out = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                out.append((method.upper(), path, operation))
    return out


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document()["components"]["schemas"][name]
    return schema


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _type_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def body_problem(schema: dict[str, Any], value: Any, location: str = "body") -> str | None:
    """The first reason a value does not fit a schema ("body.email: Field required"), or None."""
    schema = _resolve(schema)
    if "anyOf" in schema:
        problems = [body_problem(option, value, location) for option in schema["anyOf"]]
        return None if any(p is None for p in problems) else problems[0]
    for part in schema.get("allOf", []):
        problem = body_problem(part, value, location)
        if problem:
            return problem
    kind = schema.get("type")
    if isinstance(kind, str) and not _type_ok(kind, value):
        return f"{location}: Input should be a valid {'dictionary' if kind == 'object' else kind}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{location}: Input should be " + " or ".join(repr(v) for v in schema["enum"])
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{location}: String should have at least {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{location}: String should have at most {schema['maxLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{location}: String should match pattern '{schema['pattern']}'"
        if schema.get("format") == "uuid":
            try:
                uuid.UUID(value)
            except ValueError:
                return f"{location}: Input should be a valid UUID"
        if schema.get("format") == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            return f"{location}: value is not a valid email address"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            return f"{location}: Input should be greater than {schema['exclusiveMinimum']}"
        if "minimum" in schema and value < schema["minimum"]:
            return f"{location}: Input should be greater than or equal to {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{location}: Input should be less than or equal to {schema['maximum']}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                return f"{location}.{name}: Field required"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                problem = body_problem(sub, value[name], f"{location}.{name}")
                if problem:
                    return problem
    return None


def parameter_problem(parameter: dict[str, Any], raw: str | None) -> str | None:
    """Why a path or query parameter (as text) does not fit its schema, or None."""
    location = f"{parameter['in']}.{parameter['name']}"
    if raw is None:
        return f"{location}: Field required" if parameter.get("required") else None
    schema = _resolve(parameter.get("schema", {}))
    options = [_resolve(s) for s in schema.get("anyOf", [schema])]
    for option in options:
        kind = option.get("type")
        value: Any = raw
        if kind == "null":
            continue
        if kind == "integer":
            try:
                value = int(raw)
            except ValueError:
                continue
        if body_problem(option, value, location) is None:
            return None
    first = options[0]
    if first.get("type") == "integer":
        try:
            return body_problem(first, int(raw), location)
        except ValueError:
            return f"{location}: Input should be a valid integer, unable to parse string as an integer"
    return body_problem(first, raw, location)
