"""Board events: recorded in the outbox inside the transaction they describe, fanned out after commit.

``record()`` adds a ``board_event`` row to the caller's session. Committing any session that
recorded events rings the pump, which reads the new rows in sequence order and hands each one,
serialized once, to every subscriber. A rolled-back change therefore broadcasts nothing, and a
client that reconnects catches up from the table by sequence number.

SQLite serializes writers, so sequence order is commit order. (On PostgreSQL, concurrent
transactions can commit out of sequence order; the pump would need a gap wait there.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import delete, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from lazyaf.events.models import BoardEvent

if TYPE_CHECKING:
    # Only a type here: the event models import the domains, some of which record events.
    from lazyaf.events.schemas import EventData

log = structlog.get_logger(__name__)

RETAIN_EVENTS = 100_000
SUBSCRIBER_QUEUE = 20_000


def frame(row: BoardEvent) -> str:
    """The JSON text a client receives for one event."""
    return json.dumps(
        {
            "seq": row.seq,
            "type": row.type,
            "data": row.data,
            "at": row.created_at.astimezone(UTC).isoformat(),
        },
        separators=(",", ":"),
    )


class Subscription:
    """A client's queue of frames. ``None`` in the queue means stop: the client fell too far behind
    (it must resume from the table with ``?since=``) or went away."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        self.lagging = False

    def offer(self, seq: int, text: str) -> None:
        if self.lagging:
            return
        if self.queue.qsize() >= SUBSCRIBER_QUEUE:
            self.lagging = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait((seq, text))

    def close(self) -> None:
        self.queue.put_nowait(None)


class EventBus:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._subscribers: set[Subscription] = set()
        self._doorbell = asyncio.Event()
        self._published = 0
        self._task: asyncio.Task[None] | None = None
        self._since_prune = 0
        # In-process reactions to committed events (the runner hub wakes runners on job_status).
        self.listeners: list[Callable[[BoardEvent], None]] = []
        self._session_class: type[Session] = sessionmaker.kw["sync_session_class"]

    @staticmethod
    def record(session: AsyncSession, event: EventData) -> None:
        """Add ``event`` (a model of events/schemas.py, validated as it was built) to ``session``'s
        transaction; it is broadcast once that transaction commits."""
        data = event.model_dump(mode="json", exclude_none=event.OMIT_NONE)
        session.add(BoardEvent(type=event.TYPE, data=data))
        session.info["board_events"] = True

    @property
    def last_seq(self) -> int:
        return self._published

    async def start(self) -> None:
        async with self._sessionmaker() as session:
            self._published = await session.scalar(select(func.coalesce(func.max(BoardEvent.seq), 0))) or 0
        bus = self

        def after_commit(sync_session: Session) -> None:
            if sync_session.info.pop("board_events", False):
                bus.ring()

        def after_rollback(sync_session: Session, _transaction: object) -> None:
            sync_session.info.pop("board_events", None)

        self._listeners = (after_commit, after_rollback)
        event.listen(self._session_class, "after_commit", after_commit)
        event.listen(self._session_class, "after_soft_rollback", after_rollback)
        self._task = asyncio.create_task(self._pump(), name="board-event-pump")

    async def stop(self) -> None:
        cls = self._session_class
        if hasattr(self, "_listeners"):
            event.remove(cls, "after_commit", self._listeners[0])
            event.remove(cls, "after_soft_rollback", self._listeners[1])
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def ring(self) -> None:
        self._doorbell.set()

    async def _pump(self) -> None:
        while True:
            await self._doorbell.wait()
            self._doorbell.clear()
            try:
                await self._publish_new()
            except Exception:
                log.exception("board_event_pump_failed")
                await asyncio.sleep(0.5)
                self._doorbell.set()

    async def _publish_new(self) -> None:
        while True:
            rows = await self.since(self._published, limit=1000)
            if not rows:
                return
            for row in rows:
                for listener in self.listeners:
                    try:
                        listener(row)
                    except Exception:
                        log.exception("board_event_listener_failed", type=row.type)
                text = frame(row)
                for subscriber in list(self._subscribers):
                    subscriber.offer(row.seq, text)
                self._published = row.seq
            self._since_prune += len(rows)
            if self._since_prune >= 5_000:
                self._since_prune = 0
                await self._prune()

    async def _prune(self) -> None:
        async with self._sessionmaker() as session:
            await session.execute(delete(BoardEvent).where(BoardEvent.seq <= self._published - RETAIN_EVENTS))
            await session.commit()

    async def since(self, seq: int, *, limit: int) -> list[BoardEvent]:
        async with self._sessionmaker() as session:
            query = select(BoardEvent).where(BoardEvent.seq > seq).order_by(BoardEvent.seq).limit(limit)
            return list((await session.scalars(query)).all())

    async def oldest_seq(self) -> int | None:
        async with self._sessionmaker() as session:
            oldest: int | None = await session.scalar(select(func.min(BoardEvent.seq)))
            return oldest

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
