"""A person's moves of a card: edit it, drag it, start it, retry it, delete it.

Every change of column is a move of the card table (``states.CARDS``): ``PATCH {"status"}``
makes the moves marked ``patch`` (start, retry, reject, back to To Do), the action endpoints
make theirs (``states.CARDS.act``); anything else is a 409 with the table's reason.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents import service as agent_service
from lazyaf.cards import service as card_service
from lazyaf.cards.models import Card, CardStatus
from lazyaf.cards.schemas import CardUpdate
from lazyaf.errors import InvalidTransition
from lazyaf.jobs.models import Job
from lazyaf.orchestration import announce, columns, review, runs
from lazyaf.orchestration.states import CARDS
from lazyaf.settings import Settings

EDITABLE = ("title", "description", "priority", "max_attempts")


def _what(card: Card) -> str:
    return f"Card '{card.title}'"


async def update_card(*, session: AsyncSession, settings: Settings, card: Card, change: CardUpdate) -> Card:
    """Check the move, apply edits, then move the card (a PATCH making a start, retry or reject
    does what that action does)."""
    target = change.status or card.status
    move = CARDS.patch(card.status, target, what=_what(card)) if target != card.status else None
    for field in EDITABLE:
        value = getattr(change, field)
        if value is not None:
            setattr(card, field, value)
    if move is not None and move.action == "start":
        await start_card(session=session, settings=settings, card=card, position=change.position)
        return card
    if move is not None and move.action == "retry":
        await retry_card(session=session, settings=settings, card=card)
        return card
    if move is not None and move.action == "reject":
        return await review.reject_card(
            session=session, settings=settings, card=card, position=change.position
        )
    if change.status is not None or change.position is not None:
        await columns.place(session, card, target, change.position)
    await session.flush()
    announce.card_changed(session, card)
    return card


async def delete_card(*, session: AsyncSession, card: Card) -> None:
    """Delete a card, unless its agent is working on it."""
    if card.status == CardStatus.IN_PROGRESS:
        raise InvalidTransition(f"Card '{card.title}' is in_progress: cancel its job first, then delete it.")
    await card_service.delete(session=session, card=card)
    announce.card_deleted(session, card)


async def start_card(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    position: int | None = None,
    agent: str | None = None,
    fresh: bool = False,
    workflow: str | None = None,
    review_plan: bool = False,
) -> Job:
    """Start a run of ``workflow`` (None: the repo's default) for a todo card: its first step's
    attempt is queued and the card moves to in_progress.

    The card goes on with its branch; with ``fresh`` (or when it has none) it gets a new branch,
    made from the default branch under a name no branch has yet: an old branch stays in git.
    """
    CARDS.act("start", card.status, what=_what(card))
    if card.archived_at is not None:
        raise InvalidTransition(
            f"Card '{card.title}' is archived (its GitHub issue was closed); "
            "reopen the issue to bring it back."
        )
    # No runner could run it: refused before anything is written (agents/service.py).
    agent = agent or settings.default_agent
    await agent_service.require(session=session, settings=settings, agent=agent)
    card.start_waiting_since = None  # no longer waiting for a slot (github/automation.py)
    return await runs.start(
        session=session,
        settings=settings,
        card=card,
        position=position,
        agent=agent,
        fresh=fresh,
        workflow=workflow,
        review_plan=review_plan,
    )


async def retry_card(
    *, session: AsyncSession, settings: Settings, card: Card, agent: str | None = None
) -> Job:
    """Another attempt of the failed step of the card's run, told why the last attempt failed."""
    CARDS.act("retry", card.status, what=_what(card))
    return await runs.retry_step(session=session, settings=settings, card=card, agent=agent)
