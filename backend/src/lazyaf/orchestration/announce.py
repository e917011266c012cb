"""What the board is told: one board event per change, recorded in the change's own transaction
(``EventBus.record``; it is broadcast after that transaction commits, and not at all if it rolls
back), and the card's timeline entries."""

from __future__ import annotations

import uuid
from typing import Any

from lazyaf_protocol.messages import AgentEventData
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import ActivityKind, Card, CardActivity
from lazyaf.cards.schemas import CardRead
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import (
    CardDeleted,
    CardUpdated,
    JobChanged,
    JobEventAdded,
    RunnerChanged,
    RunUpdated,
)
from lazyaf.jobs.models import Job
from lazyaf.jobs.schemas import JobRead
from lazyaf.runners.models import Runner
from lazyaf.runners.schemas import RunnerRead
from lazyaf.runs import service as run_service
from lazyaf.runs.models import Run


def card_changed(session: AsyncSession, card: Card) -> None:
    EventBus.record(session, CardUpdated(card=CardRead.model_validate(card)))


def card_deleted(session: AsyncSession, card: Card) -> None:
    EventBus.record(session, CardDeleted(card_id=card.id, repo_id=card.repo_id))


def job_changed(session: AsyncSession, job: Job) -> None:
    EventBus.record(session, JobChanged(job=JobRead.model_validate(job)))


async def run_changed(session: AsyncSession, run: Run, repo_id: uuid.UUID) -> None:
    """The run as it is now, steps and figures (after the flush of its change: one read)."""
    (read,) = await run_service.read(session, [run])
    EventBus.record(session, RunUpdated(repo_id=repo_id, run=read))


def runner_changed(session: AsyncSession, runner: Runner) -> None:
    EventBus.record(session, RunnerChanged(runner=RunnerRead.model_validate(runner)))


def agent_event(session: AsyncSession, job: Job, attempt: int, seq: int, event: AgentEventData) -> None:
    EventBus.record(
        session, JobEventAdded(job_id=job.id, card_id=job.card_id, attempt=attempt, seq=seq, event=event)
    )


def activity(session: AsyncSession, card: Card, kind: ActivityKind, data: dict[str, Any]) -> None:
    """Add a timeline entry for the card."""
    session.add(CardActivity(card_id=card.id, kind=kind, data=data))
