"""Fixtures for the scheduler's decision: two repos with commits, queued cards, runners, finished runs
with a cost, and the clock the limits read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from lazyaf.cards.models import Card, CardStatus
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.limits import service as limits_service
from lazyaf.orchestration import cards as card_moves
from lazyaf.orchestration.dispatch import Dispatcher
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo


@pytest.fixture(autouse=True)
async def _dispose_engine(app: FastAPI) -> AsyncIterator[None]:
    """The app's database without its lifespan: close its connections in this test's event loop."""
    yield
    await app.state.engine.dispose()


async def _repo(app: FastAPI, settings: Settings, tmp_path: Path, name: str) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name=name))
        await session.commit()
    source = make_source_repo(tmp_path / f"src-{name}")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


@pytest.fixture
async def alpha(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    return await _repo(app, settings, tmp_path, "alpha")


@pytest.fixture
async def beta(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    return await _repo(app, settings, tmp_path, "beta")


@pytest.fixture
def dispatcher(app: FastAPI) -> Dispatcher:
    found: Dispatcher = app.state.dispatcher
    return found


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time the limits read (``limits.service.clock``)."""

    def set_now(now: datetime) -> None:
        monkeypatch.setattr(limits_service, "clock", lambda: now)

    return set_now


async def start(app: FastAPI, settings: Settings, repo: Repo, n: int = 1, **card: Any) -> list[Job]:
    """Start ``n`` new cards of ``repo``: their first attempts queued, in this order."""
    jobs = []
    async with app.state.sessionmaker() as session:
        for i in range(n):
            row = Card(repo_id=repo.id, title=card.pop("title", f"{repo.name} card {i}"), position=i, **card)
            session.add(row)
            await session.flush()
            jobs.append(await card_moves.start_card(session=session, settings=settings, card=row))
        await session.commit()
    return jobs


async def runners(app: FastAPI, n: int) -> list[Runner]:
    async with app.state.sessionmaker() as session:
        rows = [
            Runner(name=f"r-{uuid.uuid4().hex[:6]}", kind=RunnerKind.LOCAL, status=RunnerStatus.IDLE)
            for _ in range(n)
        ]
        session.add_all(rows)
        await session.commit()
    return rows


async def claim(app: FastAPI, dispatcher: Dispatcher, runner: Runner) -> Job | None:
    """One claim by ``runner`` through the decision, committed; the job it got."""
    async with app.state.sessionmaker() as session:
        claimed = await dispatcher.claim(session=session, runner_id=runner.id)
        await session.commit()
    return claimed[0] if claimed else None


async def finished(
    app: FastAPI,
    repo: Repo,
    *,
    status: JobStatus = JobStatus.COMPLETED,
    cost: float | None = None,
    ended: datetime | None = None,
    ran_s: float = 60,
) -> Job:
    """An agent run of ``repo`` that ended at ``ended`` (default now) in ``status``, having cost ``cost``."""
    ended = ended or datetime.now(UTC)
    async with app.state.sessionmaker() as session:
        card = Card(
            repo_id=repo.id, title="done before", status=CardStatus.IN_REVIEW, total_cost_usd=cost or 0.0
        )
        session.add(card)
        await session.flush()
        job = Job(
            card_id=card.id,
            status=status,
            cost_usd=cost,
            input_tokens=1000,
            output_tokens=50,
            queued_at=ended - timedelta(seconds=ran_s + 1),
            started_at=ended - timedelta(seconds=ran_s),
            completed_at=ended,
            attempt=1,
        )
        session.add(job)
        await session.commit()
    return job
