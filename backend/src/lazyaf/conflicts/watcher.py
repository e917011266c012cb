"""When predictions are made: after a change is committed, off the request path, per repo.

``ConflictWatcher`` listens to committed board events (``EventBus.listeners``) and to pushes to the
embedded git server (``app.state.ref_listeners``), and asks for a pass of the repo concerned:

* ``job_status`` of a completed attempt: the backend moved the card's branch to what it pushed;
* ``card_updated``: a card entered or left the active cards (started, reviewed, approved — which
  moves the target —, rejected, archived), or one of its fields changed;
* ``card_deleted``, ``repo_updated`` (a new default branch), a push of a branch (someone pushed to
  the target or a card branch by hand).

Requests for a repo are coalesced: the first starts a timer of ``debounce`` seconds, those that
arrive meanwhile or while the pass runs fold into it (one more pass when it ends). A pass whose
branches are where the last one saw them writes nothing (``service.Passes``), so the many card
events that move no branch cost a query and a ref read. One pass per repo runs at a time in this
process; git work happens in worker threads (``service.refresh``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.cards.models import Card
from lazyaf.conflicts import service
from lazyaf.conflicts.models import ConflictPrediction
from lazyaf.events.models import BoardEvent
from lazyaf.events.schemas import EventType
from lazyaf.gitserver.refs import RefUpdate
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

DEBOUNCE = 0.2
"""Seconds a repo's first request waits for others (an approve records several events)."""


class ConflictWatcher:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        debounce: float = DEBOUNCE,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.debounce = debounce
        self.passes = service.Passes()
        self._timers: dict[uuid.UUID, asyncio.TimerHandle] = {}
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._again: set[uuid.UUID] = set()
        self._lookups: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.passes_run = 0

    # --- what asks for a pass -------------------------------------------------------------------

    def on_board_event(self, row: BoardEvent) -> None:
        """Bus listener (after commit): ask for a pass of the repo the event is about."""
        data = row.data
        if row.type == EventType.CARD_UPDATED:
            self.request(uuid.UUID(data["card"]["repo_id"]))
        elif row.type == EventType.CARD_DELETED:
            self.request(uuid.UUID(data["repo_id"]))
        elif row.type == EventType.REPO_UPDATED:
            self.request(uuid.UUID(data["repo_id"]))
        elif row.type == EventType.REPO_DELETED:
            self.passes.forget(uuid.UUID(data["repo_id"]))
        elif row.type == EventType.JOB_STATUS and data["job"]["status"] == "completed":
            self._request_for_card(uuid.UUID(data["job"]["card_id"]))

    async def on_push(self, repo_id: uuid.UUID, updates: list[RefUpdate]) -> None:
        """Ref listener of the git server: a push moved branches of the repo."""
        if any(update.is_branch for update in updates):
            self.request(repo_id)

    def request(self, repo_id: uuid.UUID) -> None:
        """Ask for a pass of the repo soon (coalesced, module docstring)."""
        if repo_id in self._running:
            self._again.add(repo_id)
            return
        if repo_id in self._timers:
            return
        self._idle.clear()
        self._timers[repo_id] = asyncio.get_running_loop().call_later(self.debounce, self._fire, repo_id)

    def _request_for_card(self, card_id: uuid.UUID) -> None:
        async def lookup() -> None:
            async with self.sessionmaker() as session:
                repo_id = await session.scalar(select(Card.repo_id).where(Card.id == card_id))
            if repo_id is not None:
                self.request(repo_id)

        self._idle.clear()
        task = asyncio.get_running_loop().create_task(lookup(), name="conflicts-lookup")
        self._lookups.add(task)
        task.add_done_callback(self._lookup_done)

    def _lookup_done(self, task: asyncio.Task[None]) -> None:
        self._lookups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("conflicts_lookup_failed", error=str(task.exception()))
        self._check_idle()

    # --- passes ---------------------------------------------------------------------------------

    def _fire(self, repo_id: uuid.UUID) -> None:
        self._timers.pop(repo_id, None)
        task = asyncio.get_running_loop().create_task(self._run(repo_id), name=f"conflicts-{repo_id}")
        self._running[repo_id] = task

    async def _run(self, repo_id: uuid.UUID) -> None:
        try:
            while True:
                self._again.discard(repo_id)
                try:
                    await service.refresh(
                        sessionmaker=self.sessionmaker,
                        settings=self.settings,
                        repo_id=repo_id,
                        passes=self.passes,
                    )
                    self.passes_run += 1
                except Exception:
                    log.exception("conflict_prediction_failed", repo_id=str(repo_id))
                if repo_id not in self._again:
                    break
        finally:
            self._running.pop(repo_id, None)
            self._check_idle()

    def _check_idle(self) -> None:
        if not self._timers and not self._running and not self._lookups:
            self._idle.set()

    async def settle(self) -> None:
        """Wait until no pass is asked for or running (tests and benchmarks)."""
        while not self._idle.is_set():
            await self._idle.wait()

    # --- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Ask for a pass of every repo with active cards or active predictions (what changed while
        the server was down)."""
        async with self.sessionmaker() as session:
            with_cards = select(Card.repo_id).where(
                Card.status.in_(service.ACTIVE), Card.archived_at.is_(None)
            )
            with_rows = select(ConflictPrediction.repo_id).where(ConflictPrediction.cleared_at.is_(None))
            repos: Sequence[uuid.UUID] = (await session.scalars(with_cards.union(with_rows))).all()
        for repo_id in repos:
            self.request(repo_id)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = [*self._running.values(), *self._lookups]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
