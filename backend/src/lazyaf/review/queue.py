"""Approvals wait in line: one merge into a repo's default branch at a time, in arrival order.

Approve reads the default branch, builds the merge and moves the branch by compare-and-swap. Two
approvals racing on one repo would both build on the same tip and the second would lose the swap
(409 "changed while merging"), so approvals of a repo take turns on an ``asyncio.Lock`` (FIFO),
each merging onto the previous one's result and committing its card before the next begins.

Known limit: the line is per server process. Two server processes on one database each keep
their own; an approval that loses the compare-and-swap to the other process is rebuilt on the
new tip and tried again (``orchestration.review.APPROVE_TRIES``), so nothing merged is ever lost and a
conflict is still a conflict, but a long burst of approvals spread over processes can still end
in a 409 asking to approve again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request


class ApprovalQueue:
    """A lock per repo, dropped when no approval of that repo holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._users: dict[uuid.UUID, int] = {}

    @asynccontextmanager
    async def turn(self, repo_id: uuid.UUID) -> AsyncIterator[None]:
        lock = self._locks.setdefault(repo_id, asyncio.Lock())
        self._users[repo_id] = self._users.get(repo_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[repo_id] -= 1
            if not self._users[repo_id]:
                del self._users[repo_id], self._locks[repo_id]

    def waiting(self, repo_id: uuid.UUID) -> int:
        """Approvals of the repo holding or waiting for its turn."""
        return self._users.get(repo_id, 0)


def approvals(request: Request) -> ApprovalQueue:
    queue: ApprovalQueue = request.app.state.approvals
    return queue
