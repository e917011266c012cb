"""GitHub's REST contract, from ``@octokit/openapi``: which operation a request is, and whether it is valid.

``Spec.resolve(method, path)`` matches a request path against the 811 path templates (a literal
segment wins over a parameter, so ``/issues/comments`` is never ``/issues/{issue_number}``; a last
``{path}``/``{ref}``-style parameter may swallow slashes). ``check_request`` validates the query
against the declared parameters and the JSON body against the operation's request schema;
``check_response`` validates an answer against the documented response. Schemas are validated in
place through a ``referencing`` registry holding the whole document under ``urn:gh``, so the
73 MB dereferenced copy is never needed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

from jsonschema.protocols import Validator
from jsonschema.validators import extend
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from lazyaf_testkit.github import data

METHODS = ("get", "put", "post", "patch", "delete", "head")


def _nullable(keyword: Any) -> Any:
    # GitHub marks fields `nullable: true` beside an enum or a oneOf that lacks null, and sends or
    # expects null there (issue.state_reason in answers; `"milestone": null` to clear one). A
    # strict OpenAPI 3.0.3 reading rejects both; GitHub's own reading is "null is allowed".
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return check


_NULLABLE = {
    name: _nullable(OAS30ReadValidator.VALIDATORS[name]) for name in ("enum", "oneOf", "anyOf", "allOf")
}
_READ = extend(OAS30ReadValidator, _NULLABLE)
_WRITE = extend(OAS30WriteValidator, _NULLABLE)
BASE = "urn:gh"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass
class Operation:
    """One OpenAPI operation: ``id`` is GitHub's operationId (``issues/list-for-repo``)."""

    id: str
    method: str
    template: str
    parameters: dict[tuple[str, str], dict[str, Any]]  # (in, name) → parameter object
    body_pointer: str | None  # JSON pointer of the application/json request schema
    body_required: bool
    responses: dict[str, dict[str, Any]]

    @property
    def pointer(self) -> str:
        return f"/paths/{_escape(self.template)}/{self.method}"

    def documents(self, status: int) -> bool:
        return str(status) in self.responses


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    params: dict[str, _Node] = field(default_factory=dict)
    ops: dict[str, Operation] = field(default_factory=dict)


@dataclass
class Match:
    operation: Operation
    params: dict[str, str]


class Spec:
    """The operation index and validators over one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            BASE, Resource.from_contents(document, default_specification=DRAFT4)
        )
        self.operations: dict[str, Operation] = {}
        self._root = _Node()
        self._validators: dict[tuple[str, str], Validator] = {}
        for template, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    self._add(template, method, item[method], shared)

    def _add(self, template: str, method: str, raw: dict[str, Any], shared: list[Any]) -> None:
        parameters: dict[tuple[str, str], dict[str, Any]] = {}
        for param in [*shared, *raw.get("parameters", [])]:
            param = self._deref(param)
            parameters[(param["in"], param["name"])] = param
        body = raw.get("requestBody")
        body_pointer = None
        body_required = False
        if body is not None:
            body = self._deref(body)
            if "schema" in body.get("content", {}).get("application/json", {}):
                body_pointer = (
                    f"/paths/{_escape(template)}/{method}/requestBody/content/"
                    f"{_escape('application/json')}/schema"
                )
            body_required = bool(body.get("required"))
        op = Operation(
            id=raw["operationId"],
            method=method,
            template=template,
            parameters=parameters,
            body_pointer=body_pointer,
            body_required=body_required,
            responses=raw.get("responses", {}),
        )
        self.operations[op.id] = op
        node = self._root
        for segment in template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                node = node.params.setdefault(segment[1:-1], _Node())
            else:
                node = node.literal.setdefault(segment, _Node())
        node.ops[method] = op

    def _deref(self, obj: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in obj:
            target: Any = self.document
            for token in obj["$ref"].lstrip("#/").split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            obj = target
        return obj

    # -- resolving ---------------------------------------------------------------------------

    def resolve(self, method: str, path: str) -> Match | None:
        """The operation a request is, with its path parameters decoded; None when unknown."""
        segments = [s for s in path.strip("/").split("/")]
        found = self._walk(self._root, segments, {}, method.lower(), greedy=False)
        if found is None:
            found = self._walk(self._root, segments, {}, method.lower(), greedy=True)
        return found

    def _walk(
        self, node: _Node, rest: Sequence[str], params: dict[str, str], method: str, *, greedy: bool
    ) -> Match | None:
        if not rest:
            op = node.ops.get(method)
            return Match(op, params) if op is not None else None
        head, tail = rest[0], rest[1:]
        child = node.literal.get(unquote(head))
        if child is not None:
            found = self._walk(child, tail, params, method, greedy=greedy)
            if found is not None:
                return found
        for name, child in node.params.items():
            if not head:
                continue
            found = self._walk(child, tail, {**params, name: unquote(head)}, method, greedy=greedy)
            if found is not None:
                return found
            # A last parameter such as {path} or {ref} may hold slashes (contents/a/b.py, heads/x/y).
            if greedy and tail and method in child.ops and not child.literal and not child.params:
                return Match(child.ops[method], {**params, name: unquote("/".join(rest))})
        return None

    # -- validating --------------------------------------------------------------------------

    def _validator(self, pointer: str, *, write: bool) -> Validator:
        key = (pointer, "w" if write else "r")
        validator = self._validators.get(key)
        if validator is None:
            cls = _WRITE if write else _READ
            validator = cls(
                {"$ref": f"{BASE}#{pointer}"}, registry=self.registry, format_checker=oas30_format_checker
            )
            self._validators[key] = validator
        return validator

    def validate(self, pointer: str, instance: Any, *, write: bool = False) -> list[str]:
        """Every error of ``instance`` against the schema at ``pointer``, as ``at <path>: message``."""
        errors = []
        for error in self._validator(pointer, write=write).iter_errors(instance):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            errors.append(f"at {where}: {error.message}")
        return errors

    def check_request(
        self, op: Operation, query: Sequence[tuple[str, str]], body: bytes, content_type: str
    ) -> list[str]:
        """Problems with a request: undeclared or invalid query parameters, a bad or missing body."""
        problems = self._check_query(op, query)
        if body.strip():
            if op.body_pointer is None:
                problems.append(f"{op.id} takes no JSON body, but one was sent")
            elif "json" not in content_type:
                problems.append(f"{op.id}: the body was sent as {content_type or 'no content type'}")
            else:
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    problems.append(f"{op.id}: the body is not JSON ({exc})")
                else:
                    problems += [
                        f"{op.id} body {e}" for e in self.validate(op.body_pointer, payload, write=True)
                    ]
        elif op.body_required:
            problems.append(f"{op.id} requires a JSON body")
        return problems

    def _check_query(self, op: Operation, query: Sequence[tuple[str, str]]) -> list[str]:
        problems = []
        values: dict[str, list[str]] = {}
        for key, value in query:
            values.setdefault(key, []).append(value)
        for key, given in values.items():
            param = op.parameters.get(("query", key))
            if param is None:
                problems.append(f"{op.id} has no query parameter {key!r}")
                continue
            schema = self._deref(param.get("schema", {}))
            problems += [f"{op.id} query {key}: {p}" for p in _check_scalar(schema, given)]
        for (where, name), param in op.parameters.items():
            if where == "query" and param.get("required") and name not in values:
                problems.append(f"{op.id} requires the query parameter {name!r}")
        return problems

    def response_pointer(self, op: Operation, status: int) -> str | None:
        """Pointer of the JSON schema documented for ``status``, if any."""
        key = str(status)
        if key not in op.responses:
            return None
        response = op.responses[key]
        base = f"{op.pointer}/responses/{key}"
        if "$ref" in response:
            base = response["$ref"].lstrip("#")
            response = self._deref(response)
        if "schema" not in response.get("content", {}).get("application/json", {}):
            return None
        return f"{base}/content/{_escape('application/json')}/schema"

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        """Problems with an answer: an undocumented status, or a body off its schema."""
        if status == 304:
            return []
        if not op.documents(status):
            return [f"{op.id} does not document status {status}"]
        pointer = self.response_pointer(op, status)
        if pointer is None:
            return []
        return [f"{op.id} {status} response {e}" for e in self.validate(pointer, body)]

    def example(self, name: str) -> Any:
        """A deep copy of ``components/examples/<name>/value``."""
        return copy.deepcopy(self.document["components"]["examples"][name]["value"])


def _check_scalar(schema: Mapping[str, Any], given: list[str]) -> list[str]:
    kind = schema.get("type", "string")
    if kind == "array":
        items = schema.get("items", {})
        return [p for value in given for p in _check_scalar(items, [value])]
    if len(given) > 1:
        return [f"given {len(given)} times"]
    value = given[0]
    if kind == "integer":
        try:
            int(value)
        except ValueError:
            return [f"{value!r} is not an integer"]
    elif kind == "boolean" and value not in ("true", "false"):
        return [f"{value!r} is not true or false"]
    if "enum" in schema and value not in [str(v) for v in schema["enum"]]:
        return [f"{value!r} is not one of {schema['enum']}"]
    return []


@cache
def load() -> Spec:
    """The spec of ``api.github.com``, built once per process."""
    return Spec(data.openapi())
