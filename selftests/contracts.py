"""Checking answers and requests against published API documents (OpenAPI 3.0/3.1, Swagger 2.0).

The contract self-tests use ``jsonschema`` (a well-kept validator) for bodies; this module
adds what it does not do: resolving ``$ref``, OpenAPI 3.0's ``nullable``, finding the
operation a request addresses (path template, method, base path) and checking its
parameters. The documents are the sandbox's contract and the vendor subsets kept in
``selftests/contracts/`` (each with its source and version in ``x-source``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

HERE = Path(__file__).resolve().parent / "contracts"


def load(name: str) -> dict[str, Any]:
    """A document from selftests/contracts/ (or any path)."""
    path = Path(name) if "/" in name else HERE / name
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _pointer(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local $ref are supported: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc: dict[str, Any], node: Any, seen: tuple[str, ...] = ()) -> Any:
    """A copy of ``node`` with every local $ref inlined (a cycle stays a bare ``{}``)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                return {}
            return deref(doc, _pointer(doc, ref), (*seen, ref))
        return {key: deref(doc, value, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [deref(doc, value, seen) for value in node]
    return node


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 / Swagger ``nullable: true`` (and ``x-nullable``) as JSON Schema's null type."""
    if isinstance(node, dict):
        out = {key: _nullable(value) for key, value in node.items() if key not in ("nullable", "x-nullable")}
        if node.get("nullable") is True or node.get("x-nullable") is True:
            kind = out.get("type")
            if isinstance(kind, str):
                out["type"] = [kind, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
            if "type" not in out:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable(value) for value in node]
    return node


def _validator(doc: dict[str, Any]) -> type[Any]:
    return (
        jsonschema.Draft202012Validator if str(doc.get("openapi", "")).startswith("3.1") else jsonschema.Draft4Validator
    )


@dataclass
class Operation:
    """One operation of a document: where it is and what it declares."""

    doc: dict[str, Any]
    method: str
    template: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    def parameters(self) -> list[dict[str, Any]]:
        shared = self.doc["paths"][self.template].get("parameters", [])
        return [deref(self.doc, p) for p in [*shared, *self.spec.get("parameters", [])]]

    def response_schema(self, status: int, media: str = "application/json") -> dict[str, Any]:
        """The schema the document gives an answer with this status (its content of that type)."""
        responses = self.spec.get("responses", {})
        entry = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        assert entry is not None, f"{self.name}: the document declares no {status} answer (it has {sorted(responses)})"
        entry = deref(self.doc, entry)
        # OpenAPI 3 has content by media type; Swagger 2.0 a bare schema.
        schema = entry["content"].get(media, {}).get("schema") if "content" in entry else entry.get("schema")
        assert schema is not None, f"{self.name}: the document gives its {status} answer no {media} schema"
        return _nullable(schema)  # type: ignore[no-any-return]

    def check_response(
        self, status: int, body: Any, media: str = "application/json", *, strict: bool = False
    ) -> list[str]:
        """Every way ``body`` breaks the document's schema for this answer (empty: it fits).

        ``strict`` also names every property the schema does not declare: a stand-in must not
        invent fields (the suite would come to rely on them), though the schema allows extras.
        """
        schema = self.response_schema(status, media)
        problems = schema_problems(self.doc, schema, body)
        if strict:
            problems += undeclared(self.doc, schema, body)
        return problems

    def check_request(self, url: str, body: Any = None) -> list[str]:
        """Every way a request to ``url`` breaks the operation's parameters (and JSON body)."""
        problems = []
        split = urlsplit(url)
        values = _path_values(self.doc, self.template, split.path) or {}
        repeated = parse_qs(split.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in repeated.items()}
        declared = self.parameters()
        names = {p["name"] for p in declared if p.get("in") == "query"}
        for name in query:
            if name not in names:
                problems.append(f"query parameter {name!r} is not declared (declared: {sorted(names)})")
        for param in declared:
            where = param.get("in")
            raw = (
                values.get(param["name"]) if where == "path" else query.get(param["name"]) if where == "query" else None
            )
            if where not in ("path", "query"):
                continue
            if raw is None:
                if param.get("required"):
                    problems.append(f"required {where} parameter {param['name']!r} is missing")
                continue
            schema = _nullable(
                param.get("schema") or {k: v for k, v in param.items() if k in ("type", "enum", "items")}
            )
            if schema.get("type") == "array":
                # A repeated parameter (?tags=a&tags=b): each value is one item.
                schema = schema.get("items", {})
                for value in repeated.get(param["name"], [])[:-1]:
                    problems += [
                        f"{where} parameter {param['name']!r}: {p}"
                        for p in schema_problems(self.doc, schema, _typed(schema, value), strict_formats=False)
                    ]
            problems += [
                f"{where} parameter {param['name']!r}: {p}"
                for p in schema_problems(self.doc, schema, _typed(schema, raw), strict_formats=False)
            ]
        request_body = self.spec.get("requestBody")
        swagger_body = [p for p in declared if p.get("in") == "body"]
        if body is not None and request_body is not None:
            schema = deref(self.doc, request_body)["content"]["application/json"]["schema"]
            problems += [f"body: {p}" for p in schema_problems(self.doc, _nullable(schema), body)]
        elif body is not None and swagger_body:
            problems += [f"body: {p}" for p in schema_problems(self.doc, _nullable(swagger_body[0]["schema"]), body)]
        elif body is not None:
            problems.append("a body was sent, the operation declares none")
        return problems


def _typed(schema: dict[str, Any], raw: str) -> Any:
    """A query or path value as the type its schema names (they travel as text)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    for option in [*kinds, *[s.get("type") for s in schema.get("anyOf", [])]]:
        try:
            if option == "integer":
                return int(raw)
            if option == "number":
                return float(raw)
            if option == "boolean" and raw in ("true", "false"):
                return raw == "true"
        except ValueError:
            continue
    return raw


def schema_problems(
    doc: dict[str, Any], schema: dict[str, Any], value: Any, *, strict_formats: bool = True
) -> list[str]:
    """jsonschema's findings for ``value`` (formats checked: uuid, date-time, email, ...)."""
    schema = _nullable(deref(doc, schema))
    checker = _validator(doc).FORMAT_CHECKER if strict_formats else None
    validator = _validator(doc)(schema, format_checker=checker)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    ]


def undeclared(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """Properties of ``value`` that ``schema`` (with its $ref) does not declare, by JSON path.

    Objects the document leaves free-form (no ``properties``, or ``additionalProperties``) are
    not looked into; neither are ``anyOf``/``oneOf`` alternatives.
    """
    schema = deref(doc, schema)
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema and not schema.get("additionalProperties"):
        props = schema["properties"]
        for key, item in value.items():
            if key not in props:
                found.append(f"{where or '(root)'}: {key!r} is not a property the document declares")
            else:
                found += undeclared(doc, props[key], item, f"{where}/{key}" if where else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += undeclared(doc, schema["items"], item, f"{where}/{index}" if where else str(index))
    return found


def _base(doc: dict[str, Any]) -> str:
    if "basePath" in doc:  # Swagger 2.0
        return str(doc["basePath"]).rstrip("/")
    servers = doc.get("servers") or [{"url": ""}]
    return urlsplit(servers[0].get("url", "")).path.rstrip("/")


def _path_values(doc: dict[str, Any], template: str, path: str) -> dict[str, str] | None:
    full = _base(doc) + template
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(full)) + "$"
    match = re.match(pattern, path)
    return match.groupdict() if match else None


def operation(doc: dict[str, Any], method: str, url: str) -> Operation:
    """The operation a request addresses; an AssertionError naming what is wrong otherwise."""
    path = urlsplit(url).path
    matches = [t for t in doc["paths"] if _path_values(doc, t, path) is not None]
    # A literal segment beats a parameter, as routers do (/wallet/list before /wallet/{id}).
    matches.sort(key=lambda t: t.count("{"))
    assert matches, f"{method} {path}: no path of the document matches (base {_base(doc)!r})"
    for template in matches:
        spec = doc["paths"][template].get(method.lower())
        if spec is not None:
            return Operation(doc, method.upper(), template, spec)
    raise AssertionError(f"{method} {path}: the document has {matches[0]} but not for {method}")
