"""Why a queued card waits (jobs/waiting.py): no runner, runners starting or given up on, jobs ahead
of it and busy runners; the same reason from GET /api/cards/{id} and, kept current by
queue_updated events, in the board's map (GET /api/runners → waiting)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from lazyaf.db.base import utcnow
from lazyaf.events.models import BoardEvent
from lazyaf.jobs.schemas import WaitingCode
from lazyaf.jobs.waiting import Runners, reason
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, wait_until
from tests.gitutil import git, make_source_repo
from tests.runners.fakerunner import registered


@pytest.mark.parametrize(
    ("ahead", "runners", "code", "message"),
    [
        (0, Runners(), "no_runner", "waiting for a runner — none is running"),
        (3, Runners(), "no_runner", "waiting for a runner — none is running"),
        (0, Runners(starting=["local-1"]), "starting", "waiting for a runner — local-1 is starting"),
        (0, Runners(restarting=["local-1"]), "starting", "waiting for a runner — local-1 is restarting"),
        (0, Runners(starting=["a"], restarting=["b"]), "starting", "waiting for a runner — 2 are starting"),
        (
            0,
            Runners(failed=["local-1"]),
            "runner_failed",
            "waiting for a runner — local-1 keeps crashing and was stopped; retry in the runner panel",
        ),
        (
            0,
            Runners(failed=["a", "b"]),
            "runner_failed",
            "waiting for a runner — 2 runners keep crashing and were stopped; retry in the runner panel",
        ),
        (2, Runners(online=1, busy=1), "busy", "waiting: 2 ahead, 1 runner busy"),
        (0, Runners(online=2, busy=2), "busy", "waiting: next in line, 2 runners busy"),
        (1, Runners(online=2, busy=1), "busy", "waiting: 1 ahead, 1 runner busy"),
        (0, Runners(online=2, busy=1), "next", "waiting: a runner is taking it"),
        # A connected runner counts even while a pool runner restarts: the job is not stuck.
        (1, Runners(online=1, busy=1, restarting=["local-2"]), "busy", "waiting: 1 ahead, 1 runner busy"),
    ],
)
def test_the_reason_in_words(ahead: int, runners: Runners, code: str, message: str) -> None:
    found = reason(ahead, runners)
    assert (found.code, found.message, found.ahead) == (WaitingCode(code), message, ahead)


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
        await session.commit()
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


async def _queued_card(
    client: httpx.AsyncClient, repo: Repo, title: str, priority: int = 1
) -> dict[str, Any]:
    card = (
        await client.post(f"/api/repos/{repo.id}/cards", json={"title": title, "priority": priority})
    ).json()
    assert (await client.post(f"/api/cards/{card['id']}/start")).status_code == 201
    detail: dict[str, Any] = (await client.get(f"/api/cards/{card['id']}")).json()
    return detail


async def _pool_row(app: FastAPI, **fields: Any) -> None:
    async with app.state.sessionmaker() as session:
        session.add(Runner(kind=RunnerKind.LOCAL, status=RunnerStatus.OFFLINE, pooled=True, **fields))
        await session.commit()


async def test_a_card_queued_with_no_runner_says_none_is_running(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo
) -> None:
    card = await _queued_card(client, repo, "Nobody to run me")
    assert card["status"] == "in_progress"
    assert card["waiting_reason"] == {
        "code": "no_runner",
        "message": "waiting for a runner — none is running",
        "ahead": 0,
        "busy": 0,
        "runners": 0,
        "starting": [],
        "failed": [],
        "hold": None,
    }
    # Lists and card events do not carry it (it would go stale there): only the card itself.
    listed = (await client.get(f"/api/repos/{repo.id}/cards")).json()
    assert "waiting_reason" not in listed[0]

    # The board's map has it too, announced by a queue_updated event.
    async def announced() -> list[dict[str, Any]]:
        async with app.state.sessionmaker() as session:
            rows = (await session.scalars(select(BoardEvent).where(BoardEvent.type == "queue_updated"))).all()
            return [r.data for r in rows]

    await _eventually(lambda: _nonempty(announced()))
    (last,) = (await announced())[-1:]
    assert last["waiting"][card["job_id"]]["code"] == "no_runner"
    pool = (await client.get("/api/runners")).json()
    assert pool["waiting"] == last["waiting"]


async def test_pool_runners_on_their_way_or_given_up_on_are_named(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo
) -> None:
    await _pool_row(app, name="local-1", pid=4_000_000)  # launched, not connected yet
    card = await _queued_card(client, repo, "Soon")
    assert card["waiting_reason"]["message"] == "waiting for a runner — local-1 is starting"
    async with app.state.sessionmaker() as session:
        row = (await session.scalars(select(Runner))).one()
        row.pid, row.failed_at, row.last_exit = None, utcnow(), "exited with code 3"
        await session.commit()
    card = (await client.get(f"/api/cards/{card['id']}")).json()
    assert card["waiting_reason"]["code"] == "runner_failed"
    assert card["waiting_reason"]["failed"] == ["local-1"]
    # Not queued (any more): no reason.
    assert (await client.post(f"/api/jobs/{card['job_id']}/cancel")).status_code == 200
    assert (await client.get(f"/api/cards/{card['id']}")).json()["waiting_reason"] is None


async def _eventually(check: Any, tries: int = 200) -> None:
    import asyncio

    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def _nonempty(rows: Any) -> bool:
    return bool(await rows)


def test_held_behind_busy_runners_counts_the_jobs_ahead_in_dispatch_order(
    live: LiveServer, tmp_path: Path
) -> None:
    repo = httpx.post(live.api("/repos/ingest"), json={"name": "queue"}).json()
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", repo["clone_url"], "main", cwd=source)
    runner, _ = registered(live, "only-one")
    try:

        def start(title: str, priority: int = 1) -> dict[str, Any]:
            card = httpx.post(
                live.api(f"/repos/{repo['id']}/cards"), json={"title": title, "priority": priority}
            )
            assert httpx.post(live.api(f"/cards/{card.json()['id']}/start")).status_code == 201
            return card.json()

        first = start("First")
        runner.claim()  # busy with the first card
        second, third = start("Second"), start("Third")
        urgent = start("Urgent", priority=3)  # queued last, dispatched first

        def message(card: dict[str, Any]) -> str:
            detail = httpx.get(live.api(f"/cards/{card['id']}")).json()
            return str(detail["waiting_reason"]["message"]) if detail["waiting_reason"] else "-"

        assert message(first) == "-"  # it runs
        assert message(urgent) == "waiting: next in line, 1 runner busy"
        assert message(second) == "waiting: 1 ahead, 1 runner busy"
        assert message(third) == "waiting: 2 ahead, 1 runner busy"

        def board_map() -> dict[str, str]:
            waiting = httpx.get(live.api("/runners")).json()["waiting"]
            return {job_id: r["message"] for job_id, r in waiting.items()}

        jobs = {
            c["title"]: httpx.get(live.api(f"/cards/{c['id']}")).json()["job_id"]
            for c in (second, third, urgent)
        }
        wait_until(
            lambda: (
                board_map()
                == {
                    jobs["Urgent"]: "waiting: next in line, 1 runner busy",
                    jobs["Second"]: "waiting: 1 ahead, 1 runner busy",
                    jobs["Third"]: "waiting: 2 ahead, 1 runner busy",
                }
            )
        )
    finally:
        runner.close()
    # The runner is gone: every reason changes with it, on the board too.
    wait_until(lambda: set(board_map().values()) == {"waiting for a runner — none is running"})
    assert message(third) == "waiting for a runner — none is running"
    frames = [json.loads(f) for f in _queue_events(live)]
    assert frames and all(set(f) == {"waiting"} for f in frames)


def _queue_events(live: LiveServer) -> list[str]:
    from tests.runners.fakerunner import db_rows

    return [row[0] for row in db_rows(live, "SELECT data FROM board_event WHERE type = 'queue_updated'")]


async def test_an_unknown_card_is_still_a_404(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    response = await client.get(f"/api/cards/{missing}")
    assert response.status_code == 404 and response.json()["detail"].startswith(f"No card with id {missing}")
