"""A card's total cost: every job's cost summed as it completes, in the card API and card events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import select

from lazyaf.events.models import BoardEvent
from lazyaf.jobs.models import Job
from lazyaf.orchestration import attempts, runs
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runners.models import Runner, RunnerKind
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
        await session.commit()
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


async def _claim(app: FastAPI, settings: Settings) -> Job:
    async with app.state.sessionmaker() as session:
        runner = Runner(name="r1", kind=RunnerKind.LOCAL)
        session.add(runner)
        await session.flush()
        claimed = await attempts.claim(session=session, settings=settings, runner_id=runner.id)
        await session.commit()
    assert claimed is not None
    return claimed[0]


async def _fail(app: FastAPI, settings: Settings, job: Job, cost: float | None, attempt: int = 1) -> bool:
    assert job.runner_id is not None
    message = protocol.Complete(
        job_id=str(job.id), attempt=attempt, status="failed", error="The agent failed.", cost_usd=cost
    )
    async with app.state.sessionmaker() as session:
        recorded = await runs.complete_attempt(
            session=session, settings=settings, message=message, runner_id=job.runner_id
        )
        await session.commit()
    return recorded


async def _card_events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(select(BoardEvent).where(BoardEvent.type == "card_updated"))
        return [r.data["card"] for r in rows]


async def test_each_jobs_cost_adds_to_the_card_once(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, repo: Repo
) -> None:
    card = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Costly"})).json()
    assert card["total_cost_usd"] == 0
    await client.post(f"/api/cards/{card['id']}/start")
    first = await _claim(app, settings)
    assert await _fail(app, settings, first, 0.25)
    assert await _fail(app, settings, first, 0.25)  # a resent completion is acknowledged, not counted
    assert (await client.get(f"/api/cards/{card['id']}")).json()["total_cost_usd"] == 0.25
    # The board learns it from the card event of the completion, not from a reload.
    assert (await _card_events(app))[-1]["total_cost_usd"] == 0.25

    assert (await client.post(f"/api/cards/{card['id']}/retry")).status_code == 201
    second = await _claim(app, settings)
    assert not await _fail(app, settings, second, 9.0, attempt=2)  # not this job's attempt: fenced off
    assert await _fail(app, settings, second, 0.5)
    response = await client.get(f"/api/repos/{repo.id}/cards", params={"status": "failed", "limit": 10})
    (listed,) = response.json()
    assert listed["total_cost_usd"] == 0.75
    assert (await _card_events(app))[-1]["total_cost_usd"] == 0.75


async def test_a_job_without_a_cost_leaves_the_total_alone(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, repo: Repo
) -> None:
    card = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Free"})).json()
    await client.post(f"/api/cards/{card['id']}/start")
    assert await _fail(app, settings, await _claim(app, settings), None)
    after = (await client.get(f"/api/cards/{card['id']}")).json()
    assert after["status"] == "failed" and after["total_cost_usd"] == 0
