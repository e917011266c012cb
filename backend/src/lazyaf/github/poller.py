"""The poller: syncs each linked repo with automation on, every ``interval_s`` of its rule.

Local installs rarely receive webhooks, so LazyAF asks instead. A poll is the same sync as
"sync now" (github/sync.py); its first request is conditional, so an unchanged repository costs
one 304 and no quota. A failed poll is recorded on the link and retried at the next interval.
``tick(now)`` is one pass, so tests drive the poller with their own clock.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import select

from lazyaf.errors import LazyAFError
from lazyaf.github import sync
from lazyaf.github.models import GitHubLink
from lazyaf.github.schemas import SyncRule

log = structlog.get_logger(__name__)

TICK = 1.0


class Poller:
    def __init__(self, service: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.clock = clock
        self._last: dict[uuid.UUID, float] = {}  # repo → when its last poll started (clock time)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="github-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("github_poll_failed")
            await asyncio.sleep(TICK)

    async def due(self, now: float) -> list[uuid.UUID]:
        """Repos whose poll is due at ``now``: automation on, a rule, ``interval_s`` since the last."""
        async with self.service.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(GitHubLink.repo_id, GitHubLink.sync_rule).where(
                        GitHubLink.automation_enabled.is_(True)
                    )
                )
            ).all()
        due = []
        for repo_id, raw in rows:
            if not raw:
                continue
            last = self._last.get(repo_id)
            if last is None or now - last >= SyncRule.model_validate(raw).interval_s:
                due.append(repo_id)
        return due

    async def tick(self, now: float | None = None) -> list[uuid.UUID]:
        """Poll every repo that is due; the repos polled."""
        now = self.clock() if now is None else now
        polled = []
        for repo_id in await self.due(now):
            self._last[repo_id] = now
            polled.append(repo_id)
            try:
                await sync.run(self.service, repo_id)
            except LazyAFError as exc:  # recorded on the link by the sync; the next interval retries
                log.info("github_poll_error", repo_id=str(repo_id), error=exc.detail)
        return polled

    def reset(self, repo_id: uuid.UUID) -> None:
        """Poll this repo at the next tick (automation just turned on, or the rule changed)."""
        self._last.pop(repo_id, None)
