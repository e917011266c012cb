"""Reading runs: a run with its steps and their attempts' figures, as the API and the board see it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.jobs.models import Job
from lazyaf.runs.models import Run, RunStatus, Step, StepStatus
from lazyaf.runs.schemas import RunRead, RunStepRead
from lazyaf.workflows.kinds import AGENT_STEPS, StepKind

PLAN_REVIEW = "plan_review"
"""A run's phase while it waits for its plan's review."""


def _sum(values: Sequence[float | int | None]) -> float | int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def phase(run: Run, steps: Sequence[Step]) -> str | None:
    """What the run is doing, from its steps: the running step's kind, ``plan_review`` while it
    waits for a review, None once it ended."""
    if run.status == RunStatus.WAITING:
        return PLAN_REVIEW
    if run.status != RunStatus.RUNNING:
        return None
    running = next((s for s in steps if s.status == StepStatus.RUNNING), None)
    return str(running.kind) if running else None


def _step_read(step: Step, jobs: list[Job]) -> RunStepRead:
    last = jobs[-1] if jobs else None
    agent_step = step.kind in AGENT_STEPS
    return RunStepRead(
        id=step.id,
        position=step.position,
        kind=step.kind,
        status=step.status,
        job_id=last.id if last else None,
        attempts=len(jobs),
        iteration=step.iteration,
        started_at=step.started_at,
        finished_at=step.finished_at,
        agent=last.agent if last and agent_step else None,
        session_id=last.session_id if last and agent_step else None,
        commits=step.commits,
        files_changed=step.files_changed,
        lines_added=step.lines_added,
        lines_removed=step.lines_removed,
        cost_usd=_sum([j.cost_usd for j in jobs]),
        input_tokens=_sum([j.input_tokens for j in jobs]),
        output_tokens=_sum([j.output_tokens for j in jobs]),
        error=step.error,
        verification=last.verification if last and step.kind == StepKind.VERIFY else None,
    )


async def read(session: AsyncSession, runs: Sequence[Run]) -> list[RunRead]:
    """``runs`` with their steps and figures, in the order given (two queries, whatever the count)."""
    if not runs:
        return []
    steps = (
        await session.scalars(
            select(Step).where(Step.run_id.in_([r.id for r in runs])).order_by(Step.position)
        )
    ).all()
    jobs_of: dict[uuid.UUID, list[Job]] = defaultdict(list)
    if steps:
        query = (
            select(Job).where(Job.step_id.in_([s.id for s in steps])).order_by(Job.queued_at, Job.created_at)
        )
        for job in (await session.scalars(query)).all():
            assert job.step_id is not None
            jobs_of[job.step_id].append(job)
    steps_of: dict[uuid.UUID, list[Step]] = defaultdict(list)
    for step in steps:
        steps_of[step.run_id].append(step)
    return [
        RunRead(
            id=run.id,
            card_id=run.card_id,
            workflow=run.workflow,
            status=run.status,
            review_plan=run.review_plan,
            phase=phase(run, steps_of[run.id]),
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
            steps=[_step_read(s, jobs_of[s.id]) for s in steps_of[run.id]],
        )
        for run in runs
    ]


async def for_card(session: AsyncSession, card: Card, *, limit: int | None = None) -> list[RunRead]:
    """The card's runs, newest first."""
    query = select(Run).where(Run.card_id == card.id).order_by(Run.started_at.desc(), Run.created_at.desc())
    if limit is not None:
        query = query.limit(limit)
    return await read(session, (await session.scalars(query)).all())


async def latest_per_card(session: AsyncSession, repo_id: uuid.UUID) -> list[RunRead]:
    """The latest run of each of a repo's cards that has one (what the board's tiles show)."""
    runs = (
        await session.scalars(
            select(Run)
            .join(Card, Card.id == Run.card_id)
            .where(Card.repo_id == repo_id)
            .order_by(Run.card_id, Run.started_at.desc(), Run.created_at.desc())
        )
    ).all()
    latest: dict[uuid.UUID, Run] = {}
    for run in runs:
        latest.setdefault(run.card_id, run)
    return await read(session, list(latest.values()))


async def one(session: AsyncSession, run_id: uuid.UUID) -> RunRead | None:
    run = await session.get(Run, run_id)
    return (await read(session, [run]))[0] if run is not None else None
