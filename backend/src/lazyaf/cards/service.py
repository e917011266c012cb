"""Cards: create, list, read, delete, and keep each column's positions dense."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, CardStatus
from lazyaf.cards.schemas import CardCreate
from lazyaf.errors import BranchMissing
from lazyaf.git import refs
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.settings import Settings


async def column(session: AsyncSession, repo_id: uuid.UUID, status: CardStatus) -> list[Card]:
    """The cards of one column, top first (archived cards are in no column)."""
    query = (
        select(Card)
        .where(Card.repo_id == repo_id, Card.status == status, Card.archived_at.is_(None))
        .order_by(Card.position, Card.created_at)
    )
    return list((await session.scalars(query)).all())


async def create(*, session: AsyncSession, repo: Repo, card_in: CardCreate) -> Card:
    """Add a card at the bottom of the To Do column."""
    bottom = await session.scalar(
        select(func.max(Card.position)).where(
            Card.repo_id == repo.id, Card.status == CardStatus.TODO, Card.archived_at.is_(None)
        )
    )
    card = Card(repo_id=repo.id, position=(bottom + 1) if bottom is not None else 0, **card_in.model_dump())
    session.add(card)
    await session.flush()
    return card


async def list_rows_for_repo(
    *,
    session: AsyncSession,
    repo: Repo,
    status: CardStatus | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    archived: bool = False,
) -> list[RowMapping]:
    """The repo's cards by column and position, optionally filtered by status or a search text and
    cut to one page; plain column mappings: a board of thousands of cards without the ORM's
    per-object cost. Archived cards only with ``archived`` (and then only they)."""
    query = _filtered(
        select(*Card.__table__.columns).where(Card.repo_id == repo.id), status=status, q=q, archived=archived
    )
    return list((await session.execute(query.limit(limit).offset(offset))).mappings().all())


async def count_for_repo(
    *,
    session: AsyncSession,
    repo: Repo,
    status: CardStatus | None = None,
    q: str | None = None,
    archived: bool = False,
) -> int:
    query = _filtered(
        select(func.count()).select_from(Card).where(Card.repo_id == repo.id),
        status=status,
        q=q,
        archived=archived,
    )
    return int(await session.scalar(query.order_by(None)) or 0)


def _filtered(
    query: Select[Any], *, status: CardStatus | None, q: str | None, archived: bool = False
) -> Select[Any]:
    query = query.where(Card.archived_at.is_not(None) if archived else Card.archived_at.is_(None))
    if status is not None:
        query = query.where(Card.status == status)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Card.title.ilike(pattern, escape="\\"), Card.description.ilike(pattern, escape="\\"))
        )
    return query.order_by(Card.status, Card.position, Card.created_at)


def renumber(cards: list[Card]) -> None:
    for index, card in enumerate(cards):
        if card.position != index:
            card.position = index


async def delete(*, session: AsyncSession, card: Card) -> None:
    """Delete a card and close the gap it leaves in its column."""
    await session.delete(card)
    await session.flush()
    renumber(await column(session, card.repo_id, card.status))
    await session.flush()


async def current_jobs(*, session: AsyncSession, repo: Repo) -> list[Job]:
    """Each card's current job (``card.job_id``), for every card of ``repo`` that has one."""
    current = select(Card.job_id).where(Card.repo_id == repo.id, Card.job_id.is_not(None))
    return list((await session.scalars(select(Job).where(Job.id.in_(current)))).all())


async def branch_head(*, settings: Settings, repo: Repo, card: Card) -> str:
    """Where the card's branch points now: the one answer when it has none, or it was deleted
    behind LazyAF's back (a 409 that says how to go on; the card itself is there)."""
    if not card.branch_name:
        raise BranchMissing(f"Card '{card.title}' has no branch yet; start it first.")
    (sha,) = await in_thread(refs.branch_shas, git_path(settings, repo), card.branch_name)
    if sha is None:
        how = (
            "reject the card to start it over"
            if card.status == CardStatus.IN_REVIEW
            else "start the card again to make a new one"
        )
        raise BranchMissing(f"Branch {card.branch_name} no longer exists in repo '{repo.name}'; {how}.")
    return sha
