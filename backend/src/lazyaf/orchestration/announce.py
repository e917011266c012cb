"""What the board is told: one board event per change, recorded in the change's own transaction
(``EventBus.record``; it is broadcast after that transaction commits, and not at all if it rolls
back), and the card's timeline entries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, CardActivity
from lazyaf.cards.schemas import CardRead
from lazyaf.events.bus import EventBus
from lazyaf.jobs.models import Job
from lazyaf.jobs.schemas import JobRead
from lazyaf.runners.models import Runner
from lazyaf.runners.schemas import RunnerRead


def card_changed(session: AsyncSession, card: Card) -> None:
    EventBus.record(session, "card_updated", {"card": CardRead.model_validate(card).model_dump(mode="json")})


def card_deleted(session: AsyncSession, card: Card) -> None:
    EventBus.record(session, "card_deleted", {"card_id": str(card.id), "repo_id": str(card.repo_id)})


def job_changed(session: AsyncSession, job: Job) -> None:
    EventBus.record(session, "job_status", {"job": JobRead.model_validate(job).model_dump(mode="json")})


def runner_changed(session: AsyncSession, runner: Runner) -> None:
    EventBus.record(
        session, "runner_status", {"runner": RunnerRead.model_validate(runner).model_dump(mode="json")}
    )


def activity(session: AsyncSession, card: Card, kind: str, data: dict[str, Any]) -> None:
    """Add a timeline entry for the card."""
    session.add(CardActivity(card_id=card.id, kind=kind, data=data))
