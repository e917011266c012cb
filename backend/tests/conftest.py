"""Fixtures: per-test data dir and SQLite (copied from one migrated per session), app, clients, live server."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.db.migrate import upgrade
from lazyaf.main import create_app
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer
from lazyaf.testing import live_server as _live_server
from tests.openapi_check import OpenAPIChecker


# The live tests talk to real servers with httpx's module functions, whose default read timeout is
# 5 s: on a shared 2-core machine at load 8-10 a busy server (storing a flood of agent events)
# missed it and the test failed on a timer it never meant to set. These calls wait for an answer;
# they measure nothing (bench/ measures latency), so the default they share is made generous here.
httpx._config.DEFAULT_TIMEOUT_CONFIG.read = 60.0
httpx._config.DEFAULT_TIMEOUT_CONFIG.write = 60.0
httpx._config.DEFAULT_TIMEOUT_CONFIG.pool = 60.0

# fake_github (GitHub on 127.0.0.1, held to its OpenAPI description) and github_repo.
pytest_plugins = ["lazyaf_testkit.github.pytest_plugin"]

# Tests must not read the developer's environment or config file.
for _key in [k for k in os.environ if k.startswith("LAZYAF_")]:
    del os.environ[_key]

TEST_MODEL_KEY = f"sk-ant-test-{secrets.token_hex(12)}"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], check=True)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "lazyaf.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_db: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_db, data_dir / "lazyaf.db")
    # A configured server: Claude Code has a model key to run with (without one, starting a card
    # is refused; tests of that set anthropic_api_key to None).
    return Settings(data_dir=data_dir, log_format="console", anthropic_api_key=TEST_MODEL_KEY)  # type: ignore[arg-type]


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def openapi(app: FastAPI) -> OpenAPIChecker:
    return OpenAPIChecker(app)


@pytest.fixture
async def client(app: FastAPI, openapi: OpenAPIChecker) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose every /api response is validated against the OpenAPI document."""

    async def check(response: httpx.Response) -> None:
        await response.aread()
        openapi.check(response)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", event_hooks={"response": [check]}
        ) as c:
            yield c


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with _live_server(settings, migrate=False) as server:
        yield server
