"""Keeps the board's limits and spend current: ``limits_updated`` whenever today's usage changed.

An attempt that starts or ends changes what runs and what was spent; the watcher listens to board
events after commit (``EventBus.listeners``), recomputes ``GET /api/limits`` (coalesced over
``DEBOUNCE`` s) and records it when it differs from what it last announced. At local midnight the
day's counts start again: a timer recomputes them then. ``PUT`` of limits records its own event.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.db.engine import session_scope
from lazyaf.events.bus import EventBus
from lazyaf.events.models import BoardEvent
from lazyaf.events.schemas import EventType, LimitsUpdated
from lazyaf.limits import service as limits_service

log = structlog.get_logger(__name__)
DEBOUNCE = 0.1


class LimitsWatcher:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._last: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._pending: asyncio.TimerHandle | None = None
        self._midnight: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def on_board_event(self, row: BoardEvent) -> None:
        if row.type == EventType.LIMITS_UPDATED:
            self._last = row.data["limits"]  # what boards were told last, by whoever told them
            return
        if row.type != EventType.JOB_STATUS:
            return
        job = row.data["job"]
        # Claimed (a run starts, a slot is taken) or ended (cost reported, a slot freed).
        starts = job["status"] == "running" and job["phase"] == "assigned"
        if (starts or job["status"] in ("completed", "failed", "cancelled")) and self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(DEBOUNCE, self._fire)

    def _fire(self) -> None:
        self._pending = None
        task = asyncio.get_running_loop().create_task(self.refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh(self) -> None:
        """Recompute today's usage; record ``limits_updated`` if it differs from the last one."""
        async with self._lock:
            try:
                async with session_scope(self.sessionmaker) as session:
                    view = limits_service.overview(await limits_service.snapshot(session))
                    current = view.model_dump(mode="json")
                    if self._last is not None and current != self._last:
                        EventBus.record(session, LimitsUpdated(limits=view, changed=False))
            except Exception:
                log.exception("limits_refresh_failed")
                return
            self._last = current
            self._at_midnight(view.resets_at)

    def _at_midnight(self, resets_at: datetime) -> None:
        if self._midnight is not None:
            self._midnight.cancel()
        delay = (resets_at - datetime.now(UTC)).total_seconds() + 0.5
        self._midnight = asyncio.get_running_loop().call_later(max(delay, 0.0), self._fire)

    async def stop(self) -> None:
        for timer in (self._pending, self._midnight):
            if timer is not None:
                timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
