"""Cards: create, list, read, delete, and keep each column's positions dense."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, CardStatus
from lazyaf.cards.schemas import CardCreate
from lazyaf.repos.models import Repo


async def column(session: AsyncSession, repo_id: uuid.UUID, status: CardStatus) -> list[Card]:
    """The cards of one column, top first."""
    query = (
        select(Card)
        .where(Card.repo_id == repo_id, Card.status == status)
        .order_by(Card.position, Card.created_at)
    )
    return list((await session.scalars(query)).all())


async def create(*, session: AsyncSession, repo: Repo, card_in: CardCreate) -> Card:
    """Add a card at the bottom of the To Do column."""
    bottom = await session.scalar(
        select(func.max(Card.position)).where(Card.repo_id == repo.id, Card.status == CardStatus.TODO)
    )
    card = Card(repo_id=repo.id, position=(bottom + 1) if bottom is not None else 0, **card_in.model_dump())
    session.add(card)
    await session.flush()
    return card


async def list_for_repo(
    *, session: AsyncSession, repo: Repo, status: CardStatus | None = None, q: str | None = None
) -> list[Card]:
    """The repo's cards by column and position, optionally filtered by status or a search text."""
    query = select(Card).where(Card.repo_id == repo.id)
    if status is not None:
        query = query.where(Card.status == status)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Card.title.ilike(pattern, escape="\\"), Card.description.ilike(pattern, escape="\\"))
        )
    return list((await session.scalars(query.order_by(Card.status, Card.position, Card.created_at))).all())


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
