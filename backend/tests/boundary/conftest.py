"""Fixtures for the boundary tests: a raw client, a small world to attack, a real `lazyaf serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings
from lazyaf.testing import free_port
from tests.boundary.support import raw_client
from tests.gitutil import git, make_source_repo


@pytest.fixture
async def raw(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A loopback client without the OpenAPI response check (attacks get undocumented answers too)."""
    async with app.router.lifespan_context(app):
        async for c in raw_client(app):
            yield c


@pytest.fixture
async def world(app: FastAPI, raw: httpx.AsyncClient, settings: Settings, tmp_path: Path) -> dict[str, str]:
    """An ingested repo with a todo card, a queued job on another card, and a stopped hand-added runner."""
    repo = (await raw.post("/api/repos/ingest", json={"name": "target"})).json()
    source = make_source_repo(tmp_path / "src", commits=1)
    bare = settings.git_repos_dir / f"{repo['id']}.git"
    git("push", "-q", str(bare), "main", cwd=source)
    await raw.patch(f"/api/repos/{repo['id']}", json={"default_branch": "main"})
    todo = (await raw.post(f"/api/repos/{repo['id']}/cards", json={"title": "Todo card"})).json()
    started = (await raw.post(f"/api/repos/{repo['id']}/cards", json={"title": "Started card"})).json()
    job = (await raw.post(f"/api/cards/{started['id']}/start")).json()
    assert job["status"] == "queued", job
    learning = (
        await raw.post(
            f"/api/repos/{repo['id']}/learnings", json={"text": "Proposed advice.", "status": "proposed"}
        )
    ).json()
    comment = (await raw.post(f"/api/cards/{todo['id']}/comments", json={"body": "A review comment."})).json()
    (run,) = (await raw.get(f"/api/cards/{started['id']}/runs")).json()
    async with app.state.sessionmaker() as session:
        runner = Runner(name="by-hand", kind=RunnerKind.REMOTE, status=RunnerStatus.OFFLINE)
        session.add(runner)
        await session.commit()
    # The queued job's waiting reason is announced in the background (jobs/waiting.py): now, not
    # in the middle of a test that checks nothing changed.
    await app.state.queue.refresh()
    return {
        "repo_id": repo["id"],
        "card_id": todo["id"],
        "job_id": job["id"],
        "session_id": "abc-123",
        "runner_id": str(runner.id),
        "op_id": str(uuid.uuid4()),  # a GitHub outbox write (none exists: the route answers 404)
        "delivery_id": str(uuid.uuid4()),  # a GitHub delivery (none: the routes answer 404)
        "command_id": str(uuid.uuid4()),  # a GitHub command (none: 404)
        "learning_id": learning["id"],  # a proposed learning of the repo
        "comment_id": comment["id"],  # a general comment on the todo card
        "work_order_id": run["id"],  # the started card's run
    }


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A real `lazyaf serve` process (its memory is its own to measure)."""
    port = free_port()
    data = tmp_path / "served"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lazyaf"), "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LAZYAF_LOG_LEVEL": "warning"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "lazyaf serve did not come up"
                time.sleep(0.1)
        yield proc, port, data
    finally:
        proc.terminate()
        proc.wait(timeout=30)
