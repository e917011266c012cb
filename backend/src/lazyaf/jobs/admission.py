"""Admission: starts cards that wait for a slot, never more than their repo's WIP limit in progress.

A card waits when ``start_waiting_since`` is set (GitHub's auto-start sets it when the sync makes
the card). Admission — not whoever made the card wait — decides when it starts: whenever a card
leaves In Progress, a card starts waiting, or a limit changes, it counts each repo's cards in
progress and starts the oldest waiting ones (``orchestration.cards.start_card``) while the count is
below the limit. Repos without a limit (``limits`` has no entry: automation off) start nothing.

One pass runs at a time in this process, so two passes never both see the same free slot; the
database holds every waiting card, so a restart loses none. Cards a person starts by hand are
not held back (the person is in charge), but they count against the limit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.cards.models import Card, CardStatus
from lazyaf.db.engine import session_scope
from lazyaf.errors import LazyAFError
from lazyaf.events.models import BoardEvent
from lazyaf.github import automation
from lazyaf.orchestration import announce
from lazyaf.orchestration import cards as card_moves
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

# repo id → the most cards of that repo in progress at once, for repos whose waiting cards may start.
Limits = Callable[[AsyncSession], Awaitable[dict[uuid.UUID, int]]]


class Admission:
    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], limits: Limits
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.limits = limits
        self._lock = asyncio.Lock()
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def on_board_event(self, row: BoardEvent) -> None:
        """Bus listener: a card changed (left In Progress, started waiting…) or a limit changed."""
        if row.type == "card_updated":
            card = row.data["card"]
            if card["status"] == CardStatus.IN_PROGRESS and not card.get("start_waiting_since"):
                return  # a card starting frees no slot
        elif row.type != "github_updated":
            return
        self.request()

    def request(self) -> None:
        """Ask for a pass soon; requests made while one runs are folded into one more pass."""
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="admission")

    async def _drain(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await self.admit()
            except Exception:
                log.exception("admission_failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def admit(self) -> list[uuid.UUID]:
        """Start waiting cards wherever their repo has a free slot; the ids of the cards started."""
        started: list[uuid.UUID] = []
        async with self._lock:
            async with session_scope(self.sessionmaker) as session:
                limits = await self.limits(session)
                if not limits:
                    return started
                waiting_repos = set(
                    (await session.scalars(select(Card.repo_id).where(*_waiting()).distinct())).all()
                )
                for repo_id in waiting_repos & set(limits):
                    started += await self._admit_repo(session, repo_id, limits[repo_id])
        return started

    async def _admit_repo(self, session: AsyncSession, repo_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        busy = await session.scalar(
            select(func.count())
            .select_from(Card)
            .where(Card.repo_id == repo_id, Card.status == CardStatus.IN_PROGRESS)
        )
        free = limit - int(busy or 0)
        if free <= 0:
            return []
        query = (
            select(Card)
            .where(Card.repo_id == repo_id, *_waiting())
            .order_by(Card.start_waiting_since, Card.position)
            .limit(free)
        )
        started = []
        for card in (await session.scalars(query)).all():
            try:
                # start_card refuses (no commits yet, …) before it writes anything.
                workflow = await automation.auto_start_workflow(session, repo_id)
                await card_moves.start_card(
                    session=session, settings=self.settings, card=card, workflow=workflow
                )
            except LazyAFError as exc:
                # It cannot start (e.g. the repo has no commits yet): stop waiting, say why on the card.
                card.start_waiting_since = None
                card.github_error = f"Auto-start failed: {exc.detail}"
                announce.card_changed(session, card)
                continue
            started.append(card.id)
            log.info("card_admitted", card_id=str(card.id), repo_id=str(repo_id), limit=limit)
        return started


def _waiting() -> tuple[ColumnElement[bool], ...]:
    return (
        Card.start_waiting_since.is_not(None),
        Card.status == CardStatus.TODO,
        Card.archived_at.is_(None),
    )
