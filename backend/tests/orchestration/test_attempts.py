"""Ownership rules at the database level: atomic claims, fenced attempts, exactly-once effects."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import func, select

from lazyaf.cards.models import Card, CardStatus
from lazyaf.events.models import BoardEvent
from lazyaf.jobs.models import Job, JobEvent, JobStatus
from lazyaf.orchestration import attempts, runs
from lazyaf.repos.models import Repo
from lazyaf.runners.models import Runner
from lazyaf.settings import Settings
from tests.orchestration.conftest import claimed, queue, runners_named


async def test_concurrent_claims_never_share_a_job(app: FastAPI, settings: Settings, repo: Repo) -> None:
    await queue(app, settings, repo, 12)
    runners = await runners_named(app, 8)

    async def claim_all(runner: Runner) -> list[uuid.UUID]:
        got = []
        while True:
            async with app.state.sessionmaker() as session:
                row = await session.get(Runner, runner.id)
                assert row is not None
                claimed = await attempts.claim(session=session, settings=settings, runner_id=row.id)
                await session.commit()
            if claimed is None:
                return got
            got.append(claimed[0].id)
            row.current_job_id = None

    results = await asyncio.gather(*(claim_all(r) for r in runners))
    claimed = [job for got in results for job in got]
    assert len(claimed) == 12 and len(set(claimed)) == 12
    async with app.state.sessionmaker() as session:
        numbers = (await session.scalars(select(Job.attempt))).all()
    assert set(numbers) == {1}


async def test_an_attempt_that_lost_its_lease_changes_nothing(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        await attempts.record_progress(
            session=session, job_id=str(job.id), attempt=1, phase="cloning", runner_id=runner.id
        )
        row = await session.get(Job, job.id)
        assert row is not None
        row.lease_expires_at = runs.utcnow() - timedelta(seconds=1)
        requeued = await runs.expire_leases(session=session)
        await session.commit()
    assert [j.id for j in requeued] == [job.id]
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None and row.status == JobStatus.QUEUED  # lost before the agent started
        before = await session.scalar(select(func.count()).select_from(BoardEvent))
        stale = str(job.id)
        assert (
            await attempts.renew_lease(
                session=session, settings=settings, job_id=stale, attempt=1, runner_id=runner.id
            )
            is None
        )
        event = protocol.Event(job_id=stale, attempt=1, seq=1, event={"kind": "text", "text": "zombie"})
        by = runner.id
        assert await attempts.record_events(session=session, messages=[event], runner_id=by) is False
        done = protocol.Complete(job_id=stale, attempt=1, status="completed", head_sha="0" * 40)
        assert (
            await runs.complete_attempt(session=session, settings=settings, message=done, runner_id=by)
            is False
        )
        await session.commit()
        row = await session.get(Job, job.id, populate_existing=True)
        assert row is not None and row.status == JobStatus.QUEUED
        assert await session.scalar(select(func.count()).select_from(JobEvent)) == 0
        assert await session.scalar(select(func.count()).select_from(BoardEvent)) == before


async def test_a_lost_attempt_after_the_agent_started_fails_the_card(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        await attempts.record_progress(
            session=session, job_id=str(job.id), attempt=1, phase="agent", runner_id=runner.id
        )
        row = await session.get(Job, job.id)
        assert row is not None
        row.lease_expires_at = runs.utcnow() - timedelta(seconds=1)
        await runs.expire_leases(session=session)
        await session.commit()
        row = await session.get(Job, job.id, populate_existing=True)
        card = await session.get(Card, job.card_id, populate_existing=True)
        runner_row = await session.get(Runner, runner.id, populate_existing=True)
    assert row is not None and card is not None and runner_row is not None
    assert (row.status, row.error) == (
        JobStatus.FAILED,
        "Runner lost: it stopped sending heartbeats while running the agent.",
    )
    assert card.status == CardStatus.FAILED and runner_row.current_job_id is None


async def test_events_are_stored_once_and_a_repeated_completion_is_acknowledged_once(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    event = protocol.Event(job_id=str(job.id), attempt=1, seq=1, event={"kind": "text", "text": "hi"})
    failed = protocol.Complete(job_id=str(job.id), attempt=1, status="failed", error="The agent failed.")
    by = runner.id
    async with app.state.sessionmaker() as session:
        assert await attempts.record_events(session=session, messages=[event], runner_id=by)
        assert await attempts.record_events(session=session, messages=[event], runner_id=by)  # a resend
        assert await runs.complete_attempt(session=session, settings=settings, message=failed, runner_id=by)
        await session.commit()
        first = await session.scalar(select(func.count()).select_from(BoardEvent))
        assert await runs.complete_attempt(  # a resend after a lost ack
            session=session, settings=settings, message=failed, runner_id=by
        )
        await session.commit()
        assert await session.scalar(select(func.count()).select_from(BoardEvent)) == first
        assert await session.scalar(select(func.count()).select_from(JobEvent)) == 1
        card = await session.get(Card, job.card_id, populate_existing=True)
    assert card is not None and card.status == CardStatus.FAILED


async def test_a_completion_whose_push_is_missing_fails_the_job(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    done = protocol.Complete(job_id=str(job.id), attempt=1, status="completed", head_sha="a" * 40)
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=done, runner_id=runner.id
        )
        await session.commit()
        row = await session.get(Job, job.id, populate_existing=True)
    assert row is not None and row.status == JobStatus.FAILED
    assert row.error == f"The runner reported head {'a' * 40} but pushed nothing for this attempt."


async def test_an_agent_event_the_model_does_not_fit_is_stored_as_an_error_saying_so(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    """Stored under its seq (so the runner's resends end), never broadcast as it came."""
    job, runner = await claimed(app, settings, repo)
    odd = protocol.Event(job_id=str(job.id), attempt=1, seq=1, event={"kind": "dance", "text": 7})
    async with app.state.sessionmaker() as session:
        assert await attempts.record_events(session=session, messages=[odd], runner_id=runner.id)
        await session.commit()
        (stored,) = (await session.scalars(select(JobEvent))).all()
        board = (await session.scalars(select(BoardEvent).where(BoardEvent.type == "job_event"))).all()
    assert stored.seq == 1 and stored.data["kind"] == "error"
    assert stored.data["text"].startswith("The runner sent an agent event this server cannot read (kind: ")
    assert [b.data["event"] for b in board] == [stored.data]


async def test_a_lapsed_lease_whose_runner_is_still_heard_from_is_renewed(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    """A heartbeat stuck behind a flood of agent events must not cost a live runner its job: the
    reaper renews the lease of a runner whose frames still arrive, and fails the others."""
    job, runner = await claimed(app, settings, repo)
    heard: set[tuple[uuid.UUID, str, int]] = set()
    async with app.state.sessionmaker() as session:
        await attempts.record_progress(
            session=session, job_id=str(job.id), attempt=1, phase="agent", runner_id=runner.id
        )
        row = await session.get(Job, job.id)
        assert row is not None
        lapsed = runs.utcnow() - timedelta(seconds=1)
        row.lease_expires_at = lapsed
        heard.add((runner.id, str(job.id), 1))
        kept = await runs.expire_leases(
            session=session, heard_from=lambda *held: held in heard, lease_ttl=30
        )
        await session.commit()
        row = await session.get(Job, job.id, populate_existing=True)
        assert row is not None and kept == []
        assert row.status == JobStatus.RUNNING and row.lease_expires_at is not None
        assert row.lease_expires_at.replace(tzinfo=None) > lapsed.replace(tzinfo=None)
        row.lease_expires_at = lapsed
        heard.clear()  # gone silent: now it is lost
        lost = await runs.expire_leases(
            session=session, heard_from=lambda *held: held in heard, lease_ttl=30
        )
        await session.commit()
        assert [j.id for j in lost] == [job.id]
        row = await session.get(Job, job.id, populate_existing=True)
        assert row is not None and row.status == JobStatus.FAILED
