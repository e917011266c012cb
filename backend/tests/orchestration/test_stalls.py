"""Stall detection with the clock in the test's hands: marked stalled after stall_after_s (nothing
killed), cleared by the next event, stopped after kill_after_s or past the wall-clock limit, failed
with the reason when the runner reports (or when it never does)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import select

from lazyaf.cards.models import ActivityKind, Card, CardActivity, CardStatus
from lazyaf.events.models import BoardEvent
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.orchestration import attempts, runs, stalls
from lazyaf.repos.models import Repo
from lazyaf.runners.models import Runner
from lazyaf.settings import Settings
from tests.orchestration.conftest import claimed


async def _agent_running(app: FastAPI, settings: Settings, repo: Repo) -> tuple[Job, Runner, datetime]:
    """A claimed attempt whose agent started; returns it, its runner and when the agent started."""
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        row = await attempts.record_progress(
            session=session, job_id=str(job.id), attempt=1, phase="agent", runner_id=runner.id
        )
        await session.commit()
    assert row is not None and row.agent_started_at is not None
    return row, runner, row.agent_started_at


async def _watch(app: FastAPI, settings: Settings, at: datetime) -> stalls.Watched:
    async with app.state.sessionmaker() as session:
        watched = await stalls.watch(session=session, settings=settings, now=at)
        await session.commit()
    return watched


async def _job(app: FastAPI, job: Job) -> Job:
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
    assert row is not None
    return row


async def _stall_entries(app: FastAPI, job: Job) -> list[dict[str, object]]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(CardActivity).where(
                CardActivity.card_id == job.card_id, CardActivity.kind == ActivityKind.STALL
            )
        )
        return [r.data for r in rows]


async def _job_frames(app: FastAPI, job: Job) -> list[dict[str, object]]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(BoardEvent).where(BoardEvent.type == "job_status").order_by(BoardEvent.seq)
        )
        return [r.data["job"] for r in rows if r.data["job"]["id"] == str(job.id)]


async def test_a_silent_agent_is_marked_stalled_after_stall_after_s_and_nothing_is_killed(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    settings.stall_after_s, settings.kill_after_s = 60, 120
    job, _, started = await _agent_running(app, settings, repo)
    assert (await _watch(app, settings, started + timedelta(seconds=59))).stalled == []
    assert (await _job(app, job)).stalled_at is None

    watched = await _watch(app, settings, started + timedelta(seconds=61))
    row = await _job(app, job)
    assert [j.id for j in watched.stalled] == [job.id] and watched.stopping == []
    assert row.stalled_at is not None and row.status == JobStatus.RUNNING
    assert not row.cancel_requested and row.stop_reason is None
    assert (await _job_frames(app, job))[-1]["stalled_at"] is not None  # the board is told
    assert await _stall_entries(app, job) == [{"event": "stalled", "job_id": str(job.id), "silent_s": 61}]
    # Marked once, not on every sweep.
    assert (await _watch(app, settings, started + timedelta(seconds=70))).stalled == []
    assert len(await _stall_entries(app, job)) == 1


async def test_the_next_agent_event_clears_the_stall_mark(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    settings.stall_after_s, settings.kill_after_s = 60, 120
    job, runner, started = await _agent_running(app, settings, repo)
    await _watch(app, settings, started + timedelta(seconds=61))
    event = protocol.Event(job_id=str(job.id), attempt=1, seq=1, event={"kind": "text", "text": "still here"})
    async with app.state.sessionmaker() as session:
        assert await attempts.record_events(session=session, messages=[event], runner_id=runner.id)
        await session.commit()
    row = await _job(app, job)
    assert row.stalled_at is None and row.last_event_at is not None
    assert (await _job_frames(app, job))[-1]["stalled_at"] is None
    assert [e["event"] for e in await _stall_entries(app, job)] == ["stalled", "resumed"]
    # Silence now counts from that event: the old start no longer stalls it.
    assert (await _watch(app, settings, row.last_event_at + timedelta(seconds=59))).stalled == []
    assert [
        j.id for j in (await _watch(app, settings, row.last_event_at + timedelta(seconds=61))).stalled
    ] == [job.id]


async def test_past_kill_after_s_the_attempt_is_stopped_and_fails_with_the_reason_when_the_runner_reports(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    settings.stall_after_s, settings.kill_after_s = 60, 120
    job, runner, started = await _agent_running(app, settings, repo)
    watched = await _watch(app, settings, started + timedelta(seconds=121))
    row = await _job(app, job)
    assert [j.id for j in watched.stopping] == [job.id]
    assert row.status == JobStatus.RUNNING and row.cancel_requested  # the hub sends `cancel` on this
    assert row.stop_reason == (
        "Stalled: the agent emitted nothing for 121 s (kill_after_s is 120); it was stopped with everything "
        "it started."
    )
    assert (await _job_frames(app, job))[-1]["cancel_requested"] is True
    # The runner kills the tree and reports the attempt cancelled, as for a person's cancel.
    report = protocol.Complete(job_id=str(job.id), attempt=1, status="cancelled", error="cancelled")
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=report, runner_id=runner.id
        )
        await session.commit()
        row = await session.get(Job, job.id, populate_existing=True)
        card = await session.get(Card, job.card_id)
    assert row is not None and card is not None
    assert (row.status, row.error) == (JobStatus.FAILED, row.stop_reason)
    assert card.status == CardStatus.FAILED


async def test_a_repo_sets_its_own_limits(app: FastAPI, settings: Settings, repo: Repo) -> None:
    settings.stall_after_s, settings.kill_after_s = 600, 1200
    async with app.state.sessionmaker() as session:
        row = await session.get(Repo, repo.id)
        assert row is not None
        row.stall_after_s, row.kill_after_s = 5, 10
        await session.commit()
    job, _, started = await _agent_running(app, settings, repo)
    assert [j.id for j in (await _watch(app, settings, started + timedelta(seconds=6))).stalled] == [job.id]
    assert [j.id for j in (await _watch(app, settings, started + timedelta(seconds=11))).stopping] == [job.id]


async def test_only_the_agent_phase_counts_as_silence(app: FastAPI, settings: Settings, repo: Repo) -> None:
    """Cloning, committing, pushing and the checks have the runner's own timeouts (and its lease)."""
    settings.stall_after_s, settings.kill_after_s = 60, 120
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        await attempts.record_progress(
            session=session, job_id=str(job.id), attempt=1, phase="cloning", runner_id=runner.id
        )
        await session.commit()
    assert job.started_at is not None
    watched = await _watch(app, settings, job.started_at + timedelta(seconds=500))
    assert watched.stalled == watched.stopping == []


async def test_past_its_wall_clock_limit_an_attempt_is_stopped(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    settings.job_timeout, settings.lease_ttl = 300, 10
    settings.stall_after_s, settings.kill_after_s = 600, 1200
    job, runner, _ = await _agent_running(app, settings, repo)
    assert job.started_at is not None
    assert (await _watch(app, settings, job.started_at + timedelta(seconds=309))).stopping == []
    assert [
        j.id for j in (await _watch(app, settings, job.started_at + timedelta(seconds=310))).stopping
    ] == [job.id]
    row = await _job(app, job)
    assert row.stop_reason == "Timed out: the attempt ran past its wall-clock limit of 300 s and was stopped."


async def test_a_stop_the_runner_never_answers_ends_the_attempt_failed_and_fences_the_runner(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    settings.stall_after_s, settings.kill_after_s, settings.lease_ttl = 60, 120, 10
    job, runner, started = await _agent_running(app, settings, repo)
    stopped_at = started + timedelta(seconds=121)
    await _watch(app, settings, stopped_at)
    grace = stalls.stop_grace(settings)
    assert (await _watch(app, settings, stopped_at + timedelta(seconds=grace - 1))).ended == []
    watched = await _watch(app, settings, stopped_at + timedelta(seconds=grace))
    assert [j.id for j in watched.ended] == [job.id]
    row = await _job(app, job)
    assert row.status == JobStatus.FAILED and row.error is not None and row.error.startswith("Stalled: ")
    # The runner's next word about the attempt is refused (it is told `revoked` and kills its agent).
    async with app.state.sessionmaker() as session:
        renewed = await attempts.renew_lease(
            session=session, settings=settings, job_id=str(job.id), attempt=1, runner_id=runner.id
        )
    assert renewed is None


async def test_a_persons_cancel_wins_over_a_stop_under_way(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    settings.stall_after_s, settings.kill_after_s = 60, 120
    job, runner, started = await _agent_running(app, settings, repo)
    await _watch(app, settings, started + timedelta(seconds=121))
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        await runs.cancel_job(session=session, job=row)
        await session.commit()
    report = protocol.Complete(job_id=str(job.id), attempt=1, status="cancelled")
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=report, runner_id=runner.id
        )
        await session.commit()
        row = await session.get(Job, job.id, populate_existing=True)
        card = await session.get(Card, job.card_id)
    assert row is not None and card is not None
    assert (row.status, row.error, card.status) == (JobStatus.CANCELLED, None, CardStatus.TODO)
