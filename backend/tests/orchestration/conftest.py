"""Fixtures for the orchestration core: the app's database (no lifespan), a repo with commits,
queued cards, runners and claimed attempts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from lazyaf.cards.models import Card
from lazyaf.jobs.models import Job
from lazyaf.orchestration import attempts
from lazyaf.orchestration import cards as card_moves
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runners.models import Runner, RunnerKind
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo


@pytest.fixture(autouse=True)
async def _dispose_engine(app: FastAPI) -> AsyncIterator[None]:
    """These tests use the app's database without its lifespan: close its connections in this
    test's own event loop, or the pooled aiosqlite threads outlive it and fail in a later test."""
    yield
    await app.state.engine.dispose()


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


async def queue(app: FastAPI, settings: Settings, repo: Repo, n: int, **card: Any) -> list[Job]:
    jobs = []
    async with app.state.sessionmaker() as session:
        for i in range(n):
            row = Card(repo_id=repo.id, title=f"card {i}", position=i, **card)
            session.add(row)
            await session.flush()
            jobs.append(await card_moves.start_card(session=session, settings=settings, card=row))
        await session.commit()
    return jobs


async def runners_named(app: FastAPI, n: int) -> list[Runner]:
    async with app.state.sessionmaker() as session:
        rows = [Runner(name=f"r{i}", kind=RunnerKind.LOCAL) for i in range(n)]
        session.add_all(rows)
        await session.commit()
    return rows


async def claimed(app: FastAPI, settings: Settings, repo: Repo) -> tuple[Job, Runner]:
    (job,) = await queue(app, settings, repo, 1)
    (runner,) = await runners_named(app, 1)
    async with app.state.sessionmaker() as session:
        row = await session.get(Runner, runner.id)
        assert row is not None
        claimed = await attempts.claim(session=session, settings=settings, runner_id=row.id)
        await session.commit()
    assert claimed is not None
    return claimed[0], runner
