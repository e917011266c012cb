"""DELETE /api/runners/{id}: a stopped runner added by hand can be removed; nothing else can."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import select
from websockets.sync.client import connect

from lazyaf.cards.models import Card
from lazyaf.db.base import utcnow
from lazyaf.events.models import BoardEvent
from lazyaf.orchestration import attempts
from lazyaf.orchestration import cards as card_moves
from lazyaf.repos import service as repo_service
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, wait_until
from tests.gitutil import git, make_source_repo


async def _runner(app: FastAPI, **fields: Any) -> uuid.UUID:
    async with app.state.sessionmaker() as session:
        runner = Runner(
            **{"name": "laptop", "kind": RunnerKind.REMOTE, "status": RunnerStatus.OFFLINE, **fields}
        )
        session.add(runner)
        await session.commit()
        return runner.id


async def _names(client: httpx.AsyncClient) -> list[str]:
    return [r["name"] for r in (await client.get("/api/runners")).json()["runners"]]


async def test_a_stopped_runner_added_by_hand_is_removed(client: httpx.AsyncClient, app: FastAPI) -> None:
    runner_id = await _runner(app)
    await _runner(app, name="other")
    response = await client.delete(f"/api/runners/{runner_id}")
    assert response.status_code == 204, response.text
    assert await _names(client) == ["other"]
    async with app.state.sessionmaker() as session:
        events = (await session.scalars(select(BoardEvent).where(BoardEvent.type == "runner_deleted"))).all()
    assert [e.data for e in events] == [{"runner_id": str(runner_id)}]
    again = await client.delete(f"/api/runners/{runner_id}")
    assert again.status_code == 404 and again.json()["detail"] == f"No runner with id {runner_id}."


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        (
            {"kind": RunnerKind.LOCAL, "pid": 4_000_000, "name": "local-1", "pooled": True},
            "Runner 'local-1' belongs to the local pool; scale the pool down instead",
        ),
        (
            {"kind": RunnerKind.DOCKER, "container_id": "c0ffee", "name": "docker-1", "pooled": True},
            "Runner 'docker-1' belongs to the docker pool; scale the pool down instead",
        ),
        (  # one the pool gave up on has no process, and is still the pool's (scale retries it)
            {"kind": RunnerKind.LOCAL, "name": "local-2", "pooled": True, "failed_at": utcnow()},
            "Runner 'local-2' belongs to the local pool; scale the pool down instead",
        ),
        ({"status": RunnerStatus.IDLE}, "Runner 'laptop' is connected; stop its process first"),
        ({"status": RunnerStatus.BUSY}, "Runner 'laptop' is connected; stop its process first"),
    ],
)
async def test_pool_and_live_runners_are_refused_and_kept(
    client: httpx.AsyncClient, app: FastAPI, fields: dict[str, Any], detail: str
) -> None:
    runner_id = await _runner(app, **fields)
    response = await client.delete(f"/api/runners/{runner_id}")
    assert response.status_code == 409 and response.json()["detail"].startswith(detail), response.text
    assert len(await _names(client)) == 1


async def test_a_stopped_runner_that_still_holds_a_job_is_kept(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    """Offline, but its job may still finish when it reconnects: not removable until the job ends."""
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
        await session.commit()
    git(
        "push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=make_source_repo(tmp_path / "s")
    )
    runner_id = await _runner(app)
    async with app.state.sessionmaker() as session:
        card = Card(repo_id=repo.id, title="Busy", position=0)
        session.add(card)
        await session.flush()
        job = await card_moves.start_card(session=session, settings=settings, card=card)
        await session.commit()
    async with app.state.sessionmaker() as session:
        assert await attempts.claim(session=session, settings=settings, runner_id=runner_id)
        row = await session.get(Runner, runner_id)
        assert row is not None
        row.status = RunnerStatus.OFFLINE
        await session.commit()
    response = await client.delete(f"/api/runners/{runner_id}")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Runner 'laptop' still holds job {job.id}; "
        "wait for the job to end or cancel it, then remove the runner."
    )
    assert await _names(client) == ["laptop"]


async def test_a_client_off_loopback_without_the_token_removes_nothing(app: FastAPI) -> None:
    runner_id = await _runner(app)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as stranger:
        response = await stranger.delete(f"/api/runners/{runner_id}")
    assert response.status_code == 401
    async with app.state.sessionmaker() as session:
        assert await session.get(Runner, runner_id) is not None


def test_a_connected_runner_is_refused_until_it_stops(live: LiveServer) -> None:
    """A real runner connection (the runner protocol over the WebSocket): refused while connected."""
    token = live.app.state.credentials.registration_token
    with connect(
        live.url.replace("http", "ws", 1) + "/api/runners/connect",
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as socket:
        socket.send(protocol.Hello(name="by-hand", kind="remote").model_dump_json())
        welcome = protocol.Welcome.model_validate_json(socket.recv(timeout=10))
        response = httpx.delete(live.api(f"/runners/{welcome.runner_id}"))
        assert response.status_code == 409 and "is connected" in response.json()["detail"]

    wait_until(lambda: httpx.get(live.api("/runners")).json()["runners"][0]["status"] == "offline")
    assert httpx.delete(live.api(f"/runners/{welcome.runner_id}")).status_code == 204
    assert httpx.get(live.api("/runners")).json()["runners"] == []
