"""Validate API responses against the app's own OpenAPI document (JSON Schema 2020-12)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import httpx
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from referencing import Registry, Resource


class OpenAPIChecker:
    def __init__(self, app: FastAPI) -> None:
        self.spec = app.openapi()
        resource = Resource.from_contents(self.spec, default_specification=_draft())
        self.registry = Registry().with_resource("urn:openapi", resource)
        self.routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path, ops)
            for path, ops in self.spec["paths"].items()
        ]
        self.checked = 0

    def check(self, response: httpx.Response) -> None:
        """Raise if ``response`` (to an /api request) does not match its documented schema."""
        request = response.request
        path = request.url.path
        if not path.startswith("/api/"):
            return
        matches = [(tpl, ops) for rx, tpl, ops in self.routes if rx.match(path)]
        # Prefer literal routes (/api/repos/ingest) over templated ones (/api/repos/{repo_id}).
        matches.sort(key=lambda m: m[0].count("{"))
        method = request.method.lower()
        operation = next((ops[method] for _, ops in matches if method in ops), None)
        assert operation is not None, f"{request.method} {path} is not in the OpenAPI document"
        status = str(response.status_code)
        documented = operation["responses"]
        assert status in documented, (
            f"{request.method} {path} answered {status}, documented: {list(documented)}"
        )
        content = documented[status].get("content", {}).get("application/json")
        if content is None:
            assert not response.content, f"{request.method} {path} {status} has an undocumented body"
            return
        schema = content["schema"]
        validator = Draft202012Validator(_rebase(schema), registry=self.registry)
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
        assert not errors, f"{request.method} {path} {status}: {errors[0].message} at {list(errors[0].path)}"
        self.checked += 1


def _rebase(schema: Any) -> Any:
    """Point local refs (#/components/...) at the registered document."""
    if isinstance(schema, dict):
        return {
            k: ("urn:openapi" + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


@cache
def _draft() -> Any:
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012
