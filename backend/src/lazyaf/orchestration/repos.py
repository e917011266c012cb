"""Deleting a repo that still has agent work on it."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.errors import Conflict
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.orchestration import runs
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)


async def delete_repo(
    *, session: AsyncSession, settings: Settings, repo: Repo, cancel: bool = False
) -> list[tuple[str, int]]:
    """Delete a repo unless its cards have queued or running jobs (409 naming the cards); with
    ``cancel``, cancel them first. Commits. Returns the running attempts that were fenced off, for
    the caller to tell their runners to stop.

    A running attempt is not waited for: it ends *cancelled* in the same transaction as the delete,
    so whatever it reports later is refused by the fence (its job is gone), and its runner is freed
    at once. Told to stop, the runner kills its agent, reports, and claims its next job.
    """
    # Write first: on SQLite the transaction takes the write lock here, so no runner can claim one
    # of these jobs between the read below and the delete (PostgreSQL: the rows are locked).
    await session.execute(update(Repo).where(Repo.id == repo.id).values(updated_at=datetime.now(UTC)))
    query = (
        select(Job, Card)
        .join(Card, Card.id == Job.card_id)
        .where(Card.repo_id == repo.id, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
        .order_by(Card.position)
        .with_for_update(of=Job)
        .execution_options(populate_existing=True)
    )
    active = [(job, card) for job, card in (await session.execute(query)).all()]
    if active and not cancel:
        titles = list(dict.fromkeys(f"'{card.title}'" for _, card in active))
        cards = "card" if len(titles) == 1 else "cards"
        raise Conflict(
            f"Repo '{repo.name}' has agent work queued or running on {len(titles)} {cards}: "
            f"{', '.join(titles[:10])}{' and more' if len(titles) > 10 else ''}. Cancel those jobs first, "
            "or delete with ?cancel=true to cancel them and delete the repo."
        )
    fenced = [(str(job.id), job.attempt) for job, _ in active if job.status == JobStatus.RUNNING]
    for job, card in active:
        await runs.end_attempt(
            session=session,
            job=job,
            card=card,
            status=JobStatus.CANCELLED,
            error="Cancelled: its repo was deleted.",
        )
    await repo_service.delete(session=session, settings=settings, repo=repo)
    log.info("repo_deleted_with_work", repo=repo.name, cancelled=len(active), fenced=len(fenced))
    return fenced
