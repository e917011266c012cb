"""The one place that changes a card's status (and, later, a job's).

Moves people may make by dragging are listed in ``MANUAL_MOVES``; every other change of column
belongs to an action (start, approve, retry) or to the backend itself, and a PATCH asking for
it is refused with the reason.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import Card, CardStatus
from lazyaf.cards.schemas import CardUpdate
from lazyaf.errors import InvalidTransition

S = CardStatus

# (from, to) moves a PATCH may make. Reject (in_review -> todo) keeps the branch; a failed
# card may be put back in the backlog.
MANUAL_MOVES: frozenset[tuple[CardStatus, CardStatus]] = frozenset({(S.IN_REVIEW, S.TODO), (S.FAILED, S.TODO)})


def refusal(current: CardStatus, target: CardStatus) -> str:
    """The sentence saying why a card may not move from ``current`` to ``target``."""
    if current == S.IN_PROGRESS:
        return "The card's agent is still working on it; wait for it to finish or cancel its job first."
    if current == S.DONE:
        return "Done cards are merged and final; create a new card for more work."
    if target == S.IN_PROGRESS:
        return "A card moves to in_progress only when an agent job starts on it."
    if target == S.IN_REVIEW:
        return "A card moves to in_review only when its agent job has finished and pushed its branch."
    if target == S.DONE:
        if current == S.IN_REVIEW:
            return "A card in review becomes done only when it is approved and its branch merged."
        return "Only a card in review can become done; it needs an agent's work to review first."
    if target == S.FAILED:
        return "Only a failed job moves a card to failed."
    return f"A card cannot move from {current} to {target}."


async def update_card(*, session: AsyncSession, card: Card, change: CardUpdate) -> Card:
    """Check the move, apply edits, then move the card if a status or position was given."""
    target = change.status or card.status
    if target != card.status and (card.status, target) not in MANUAL_MOVES:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: {refusal(card.status, target)}")
    for field in ("title", "description", "priority"):
        value = getattr(change, field)
        if value is not None:
            setattr(card, field, value)
    if change.status is not None or change.position is not None:
        await _move(session, card, target, change.position)
    await session.flush()
    return card


async def _move(session: AsyncSession, card: Card, target: CardStatus, position: int | None) -> None:
    """Place the card at ``position`` in ``target``'s column (bottom when None) and renumber both columns."""
    source = card.status
    if target != source:
        remaining = [c for c in await card_service.column(session, card.repo_id, source) if c.id != card.id]
        card_service.renumber(remaining)
    dest = [c for c in await card_service.column(session, card.repo_id, target) if c.id != card.id]
    index = len(dest) if position is None else min(position, len(dest))
    dest.insert(index, card)
    card.status = target
    card_service.renumber(dest)
