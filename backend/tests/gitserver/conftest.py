"""Fixtures for the git server tests: a live server per backend, a repo on it, a push recorder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lazyaf.gitserver.refs import RefUpdate
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server

# Small enough that a test can exceed it cheaply, big enough for every real request here.
MAX_INFLATED = 256 << 10


@pytest.fixture(params=["git", "dulwich"])
def git_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def server(settings: Settings, git_backend: str) -> Iterator[LiveServer]:
    configured = settings.model_copy(
        update={"git_backend": git_backend, "max_inflated_request_bytes": MAX_INFLATED}
    )
    with live_server(configured, migrate=False) as live:
        assert live.app.state.git_backend == git_backend
        yield live


@dataclass
class Remote:
    id: str
    url: str
    path: Path


@pytest.fixture
def remote(server: LiveServer) -> Remote:
    response = httpx.post(server.api("/repos"), json={"name": "demo"}, timeout=10)
    assert response.status_code == 201, response.text
    repo = response.json()
    return Remote(
        id=repo["id"], url=repo["clone_url"], path=server.settings.git_repos_dir / f"{repo['id']}.git"
    )


class PushLog:
    """Every ``on_push`` call the server makes, in order."""

    def __init__(self) -> None:
        self.calls: list[list[RefUpdate]] = []

    async def __call__(self, repo_id: object, updates: list[RefUpdate]) -> None:
        self.calls.append(list(updates))


@pytest.fixture
def pushes(server: LiveServer) -> PushLog:
    log = PushLog()
    server.app.state.ref_listeners.append(log)
    return log
