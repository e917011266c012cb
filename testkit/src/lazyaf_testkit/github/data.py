"""GitHub's official data, as extracted by ``testkit/setup.sh`` into ``testkit/.data``.

Loaders are cached per process: the OpenAPI description is 13 MB and takes ~0.1 s to parse.
``FAKEGITHUB_DATA`` points elsewhere (for an installed, non-editable testkit).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any


class DataMissing(RuntimeError):
    """The extracted data is not there: ``testkit/setup.sh`` has not run."""


def data_dir() -> Path:
    explicit = os.environ.get("FAKEGITHUB_DATA")
    path = Path(explicit) if explicit else Path(__file__).resolve().parents[3] / ".data"
    if not (path / "api.github.com.json").is_file():
        raise DataMissing(
            f"GitHub's test data is missing at {path}; run testkit/setup.sh (make test runs it)."
        )
    return path


def _load(name: str) -> Any:
    with open(data_dir() / name, encoding="utf-8") as fh:
        return json.load(fh)


@cache
def openapi() -> dict[str, Any]:
    """``@octokit/openapi``'s ``api.github.com.json`` (OpenAPI 3.0.3); never mutate it."""
    spec: dict[str, Any] = _load("api.github.com.json")
    return spec


@cache
def webhook_examples() -> list[dict[str, Any]]:
    """``@octokit/webhooks-examples``: ``[{name, actions, examples: [payload, ...]}, ...]``."""
    index: list[dict[str, Any]] = _load("webhooks-examples.json")
    return index


@cache
def graphql_introspection() -> dict[str, Any]:
    """``@octokit/graphql-schema``'s ``schema.json``: an introspection result (``{"__schema": ...}``)."""
    schema: dict[str, Any] = _load("graphql-schema.json")
    return schema


def fixture(scenario: str) -> list[dict[str, Any]]:
    """One ``@octokit/fixtures`` scenario (nock format: ``[{method, path, status, response, headers}]``)."""
    path = data_dir() / "fixtures" / f"{scenario}.json"
    if not path.is_file():
        raise KeyError(f"no @octokit/fixtures scenario {scenario!r}")
    interactions: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return interactions


def versions() -> dict[str, str]:
    """Package name → version of the extracted data."""
    lines = (data_dir() / "VERSIONS").read_text(encoding="utf-8").split()
    return dict(line.rsplit("@", 1) for line in lines)
