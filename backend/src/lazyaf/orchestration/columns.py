"""Where a card sits: its column (its status) and its position there, kept dense.

``place`` is the one writer of ``card.status``: it holds every move to the card table
(``states.CARDS``), whoever asked, and renumbers both columns, announcing every card whose
position changed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import Card, CardStatus
from lazyaf.orchestration import announce
from lazyaf.orchestration.states import CARDS


async def place(session: AsyncSession, card: Card, target: CardStatus, position: int | None) -> None:
    """Put the card at ``position`` in ``target``'s column (bottom when None) and renumber both
    columns. A change of column must be a move of the card table (the caller has checked who
    asked); the card's own event is the caller's to record, with its other changes."""
    source = card.status
    if target != source:
        CARDS.require(source, target)
        with session.no_autoflush:  # the card's own pending edits do not change the columns
            remaining = [
                c for c in await card_service.column(session, card.repo_id, source) if c.id != card.id
            ]
        card_service.renumber(remaining)
        for moved in remaining:
            if moved in session.dirty:
                announce.card_changed(session, moved)
    with session.no_autoflush:  # the source column's new positions are flushed once, with the rest
        dest = [c for c in await card_service.column(session, card.repo_id, target) if c.id != card.id]
    index = len(dest) if position is None else min(position, len(dest))
    dest.insert(index, card)
    card.status = target
    card_service.renumber(dest)
    for moved in dest:
        if moved is not card and moved in session.dirty:
            announce.card_changed(session, moved)
