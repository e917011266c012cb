"""The reaper: expires leases, fails jobs far past their timeout, marks silent runners offline, and
has the pool look for runners that ended unnoticed.

Dispatch itself is event-driven (a queued job wakes idle runners, a runner that frees up claims
at once); this loop only looks for what went silent. At start-up it waits one lease period first:
runners could not heartbeat while the backend was down, and must get the chance to reconnect
before anything they hold is declared lost.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.db.engine import session_scope
from lazyaf.orchestration import runners, runs
from lazyaf.runners.pool import RunnerPool
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)


class Reaper:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        pool: RunnerPool | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.pool = pool
        self._task: asyncio.Task[None] | None = None
        # Called after each sweep (the runner hub wakes an idle runner if jobs still wait).
        self.after_sweep: list[Callable[[], Awaitable[None]]] = []
        # Whether a runner's connection still delivers frames (the hub knows; None in tests
        # that run the reaper alone).
        self.heard_from: Callable[[uuid.UUID, str, int], bool] | None = None

    @property
    def interval(self) -> float:
        return max(0.1, min(5.0, self.settings.lease_ttl / 6))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await asyncio.sleep(self.settings.lease_ttl)
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("reaper_sweep_failed")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> None:
        async with session_scope(self.sessionmaker) as session:
            await runs.expire_leases(
                session=session, heard_from=self.heard_from, lease_ttl=self.settings.lease_ttl
            )
            await runs.fail_stale_timeouts(session=session, settings=self.settings)
            await runs.resume_stalled(session=session, settings=self.settings)
            await runners.mark_silent_offline(session=session, settings=self.settings)
        for callback in self.after_sweep:
            await callback()
        if self.pool is not None:
            # Pool runners that ended unnoticed (a container; a process without a pidfd) are restarted.
            await self.pool.check()
