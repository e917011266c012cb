"""A card's agent work as runs of steps: what starting, finishing, failing, fixing, retrying,
reviewing and cancelling do to its run and steps (the attempts themselves: test_attempts.py)."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import select

from lazyaf.cards.models import Card, CardStatus, Comment
from lazyaf.git import refs as git_refs
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.orchestration import attempts, review, runs
from lazyaf.orchestration import cards as card_moves
from lazyaf.orchestration.states import IllegalMove
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.runs.models import Run, RunStatus, Step, StepStatus
from lazyaf.settings import Settings
from lazyaf.workflows.kinds import StepKind
from tests.orchestration.conftest import claimed, queue, runners_named


async def _runs(
    app: FastAPI, card_id: uuid.UUID
) -> list[tuple[str, RunStatus, list[tuple[StepKind, StepStatus]]]]:
    """The card's runs, oldest first: (workflow, status, [(step kind, step status)])."""
    async with app.state.sessionmaker() as session:
        found = []
        for run in await session.scalars(select(Run).where(Run.card_id == card_id).order_by(Run.started_at)):
            steps = await session.scalars(select(Step).where(Step.run_id == run.id).order_by(Step.position))
            found.append((run.workflow, run.status, [(s.kind, s.status) for s in steps]))
        return found


async def _fail(app: FastAPI, settings: Settings, job: Job, runner_id: uuid.UUID, **fields: object) -> None:
    message = protocol.Complete(
        job_id=str(job.id), attempt=job.attempt, status="failed", error="It broke.", **fields
    )
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=message, runner_id=runner_id
        )
        await session.commit()


async def _claim(app: FastAPI, settings: Settings, runner_id: uuid.UUID) -> Job:
    async with app.state.sessionmaker() as session:
        got = await attempts.claim(session=session, settings=settings, runner_id=runner_id)
        await session.commit()
    assert got is not None
    return got[0]


async def test_starting_a_card_starts_a_build_run_of_one_step(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    (job,) = await queue(app, settings, repo, 1)
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.RUNNING, [(StepKind.BUILD, StepStatus.RUNNING)])
    ]
    async with app.state.sessionmaker() as session:
        step = await session.get(Step, job.step_id)
        assert step is not None and step.started_at is not None and step.finished_at is None


async def test_a_failed_attempt_fails_its_step_and_run_and_a_retry_reopens_them(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    await _fail(app, settings, job, runner.id)
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.FAILED, [(StepKind.BUILD, StepStatus.FAILED)])
    ]
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, job.card_id)
        assert card is not None
        retry = await card_moves.retry_card(session=session, settings=settings, card=card)
        await session.commit()
    # Another attempt of the same step, not a new run.
    assert retry.step_id == job.step_id and retry.kind == JobKind.RETRY
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.RUNNING, [(StepKind.BUILD, StepStatus.RUNNING)])
    ]


async def test_failed_checks_with_attempts_left_are_another_attempt_of_the_same_step(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, runner = await claimed(app, settings, repo)
    # What a runner does: push the attempt's work to its attempt ref (here: main's commit).
    path = repo_service.git_path(settings, repo)
    (head,) = git_refs.branch_shas(path, "main")
    assert head is not None
    git_refs.set_ref(path, protocol.attempt_ref(str(job.id), 1), head, reason="test")
    failing = protocol.VerifyResult(
        name="test", command="pytest", exit_code=1, duration_ms=5, output="1 failed"
    )
    done = protocol.Complete(
        job_id=str(job.id), attempt=1, status="completed", head_sha=head, verification=[failing]
    )
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=done, runner_id=runner.id
        )
        await session.commit()
        jobs = list(
            await session.scalars(select(Job).where(Job.card_id == job.card_id).order_by(Job.queued_at))
        )
        card = await session.get(Card, job.card_id)
    assert [(j.kind, j.status, j.step_id) for j in jobs] == [
        (JobKind.BUILD, JobStatus.FAILED, job.step_id),
        (JobKind.FIX, JobStatus.QUEUED, job.step_id),
    ]
    assert card is not None and card.status == CardStatus.IN_PROGRESS and card.job_id == jobs[1].id
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.RUNNING, [(StepKind.BUILD, StepStatus.RUNNING)])
    ]


async def test_requesting_changes_starts_an_iterate_run(app: FastAPI, settings: Settings, repo: Repo) -> None:
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        card = await session.get(Card, job.card_id)
        assert row is not None and card is not None
        await runs.end_attempt(session=session, job=row, card=card, status=JobStatus.COMPLETED, error=None)
        await session.commit()
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.SUCCEEDED, [(StepKind.BUILD, StepStatus.SUCCEEDED)])
    ]
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, job.card_id)
        assert card is not None and card.status == CardStatus.IN_REVIEW
        card.branch_name = "main"  # a branch that exists, for request changes to go on
        session.add(Comment(card_id=card.id, body="Rename it."))
        again = await review.request_changes(session=session, settings=settings, card=card)
        await session.commit()
    assert again.kind == JobKind.ITERATE and again.step_id != job.step_id
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.SUCCEEDED, [(StepKind.BUILD, StepStatus.SUCCEEDED)]),
        ("iterate", RunStatus.RUNNING, [(StepKind.ITERATE, StepStatus.RUNNING)]),
    ]


async def test_cancelling_a_queued_job_cancels_its_step_and_run(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    (job,) = await queue(app, settings, repo, 1)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        await runs.cancel_job(session=session, job=row)
        await session.commit()
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.CANCELLED, [(StepKind.BUILD, StepStatus.CANCELLED)])
    ]


async def test_a_lease_lost_before_the_agent_started_keeps_the_step_running(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    job, _ = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        await attempts.requeue(session=session, job=row)
        await session.commit()
    (runner,) = await runners_named(app, 1)
    again = await _claim(app, settings, runner.id)
    assert (again.id, again.attempt, again.step_id) == (job.id, 2, job.step_id)
    assert await _runs(app, job.card_id) == [
        ("build", RunStatus.RUNNING, [(StepKind.BUILD, StepStatus.RUNNING)])
    ]


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED])
async def test_a_job_from_before_runs_existed_still_ends_and_moves_its_card(
    app: FastAPI, settings: Settings, repo: Repo, status: JobStatus
) -> None:
    """Jobs of an upgraded database have no step: they end as before, and a retry makes a run."""
    job, runner = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        card = await session.get(Card, job.card_id)
        assert row is not None and card is not None
        await session.delete(await session.get(Run, (await session.get(Step, row.step_id)).run_id))  # type: ignore[union-attr]
        await session.flush()
        await session.refresh(row)
        assert row.step_id is None
        await runs.end_attempt(session=session, job=row, card=card, status=status, error=None)
        await session.commit()
        assert card.status == runs.CARD_AFTER[status]
    if status == JobStatus.FAILED:
        async with app.state.sessionmaker() as session:
            card = await session.get(Card, job.card_id)
            assert card is not None
            retry = await card_moves.retry_card(session=session, settings=settings, card=card)
            await session.commit()
        assert retry.step_id is not None
        assert await _runs(app, job.card_id) == [
            ("build", RunStatus.RUNNING, [(StepKind.BUILD, StepStatus.RUNNING)])
        ]


@pytest.mark.parametrize("first_ends", [JobStatus.COMPLETED, JobStatus.FAILED])
async def test_a_run_of_two_steps_waits_for_its_driver_after_a_step_succeeds(
    app: FastAPI, settings: Settings, repo: Repo, first_ends: JobStatus
) -> None:
    """A step that succeeded with another pending leaves the run running (its driver, a GitHub
    command or a workflow, begins the next); a step that failed ends it, the rest skipped."""
    job, _ = await claimed(app, settings, repo)
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, job.card_id)
        assert card is not None
        step = await runs.new_run(session, card, "plan-build", [StepKind.PLAN, StepKind.BUILD])
        row = await session.get(Job, job.id)
        assert row is not None
        row.step_id = step.id  # the claimed attempt runs the plan step
        await session.flush()
        await runs.end_attempt(session=session, job=row, card=card, status=first_ends, error=None)
        await session.commit()
        run_id = step.run_id
    async with app.state.sessionmaker() as session:
        run = await session.get(Run, run_id)
        steps = (
            await session.scalars(select(Step).where(Step.run_id == run_id).order_by(Step.position))
        ).all()
        assert run is not None
        if first_ends == JobStatus.FAILED:
            assert (run.status, [s.status for s in steps]) == (
                RunStatus.FAILED,
                [StepStatus.FAILED, StepStatus.SKIPPED],
            )
            with pytest.raises(IllegalMove):
                await runs.begin_step(session, run_id, 1)
            return
        assert (run.status, [s.status for s in steps]) == (
            RunStatus.RUNNING,
            [StepStatus.SUCCEEDED, StepStatus.PENDING],
        )
        build = await runs.begin_step(session, run_id, 1)
        assert build.status == StepStatus.RUNNING and build.kind == StepKind.BUILD
