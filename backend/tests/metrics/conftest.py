"""Metrics fixtures: a floor (cards driven through the real core at chosen times) on SQLite, and
on PostgreSQL too where the machine has its server binaries (a fresh database per test)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI

from lazyaf.db.migrate import upgrade
from lazyaf.main import create_app
from lazyaf.settings import Settings
from tests.metrics.floor import Floor
from tests.openapi_check import OpenAPIChecker
from tests.test_postgres import INITDB, _as_postgres, pg_url

__all__ = ["pg_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """The test's settings: its own SQLite file, or its own database on the module's PostgreSQL."""
    if request.param == "sqlite":
        yield settings
        return
    if INITDB is None:
        pytest.skip("PostgreSQL server binaries (Debian package postgresql) are not installed")
    url: str = request.getfixturevalue("pg_url")
    name = f"metrics_{uuid.uuid4().hex[:12]}"
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    createdb = Path(INITDB).resolve().parent / "createdb"
    subprocess.run(
        _as_postgres([str(createdb), "-h", host, "-p", port, "-U", "lazyaf", name]),
        check=True,
        capture_output=True,
    )
    yield settings.model_copy(update={"database_url": url.rsplit("/", 1)[0] + f"/{name}"})


@pytest.fixture
async def floor_app(database: Settings) -> AsyncIterator[FastAPI]:
    if database.database_url is not None:
        await anyio.to_thread.run_sync(upgrade, database.database_url)
    app = create_app(database)
    yield app
    await app.state.engine.dispose()


@pytest.fixture
def floor(floor_app: FastAPI, database: Settings, tmp_path: Path) -> Floor:
    return Floor(floor_app, database, tmp_path)


@pytest.fixture
async def api(floor_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An API client without the app's lifespan (no reaper or scheduler acting on the floor in
    travelled time), every /api answer checked against the OpenAPI document."""
    checker = OpenAPIChecker(floor_app)

    async def check(response: httpx.Response) -> None:
        await response.aread()
        checker.check(response)

    transport = httpx.ASGITransport(app=floor_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost", event_hooks={"response": [check]}
    ) as client:
        yield client
