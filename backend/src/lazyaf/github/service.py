"""``GitHubService``: the app's GitHub machinery in one object (``app.state.github``).

It holds the clients (one per link), the outbox worker, the issue poller, the command worker
(github/commands: webhook and comment deliveries, commands, progress comments) and a lock per repo so that
two syncs of one repo never overlap. ``start``/``stop`` run from the app's lifespan; with
``background = False`` (tests) nothing runs by itself and tests call ``outbox.run_due()`` and
``poller.tick()``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.github import pulls  # noqa: F401  (registers the outbox handlers)
from lazyaf.github.clients import GitHubClients
from lazyaf.github.commands.service import CommandService
from lazyaf.github.outbox import Outbox
from lazyaf.github.poller import Poller
from lazyaf.secretbox import KeyStore
from lazyaf.settings import Settings


class GitHubService:
    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], secrets: KeyStore
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.secrets = secrets
        self.clients = GitHubClients(settings, secrets)
        self.outbox = Outbox(self)
        self.poller = Poller(self)
        self.commands = CommandService(self)  # `@lazyaf` commands from comments (github/commands)
        self.background = True
        self._locks: defaultdict[uuid.UUID, asyncio.Lock] = defaultdict(asyncio.Lock)

    def lock(self, repo_id: uuid.UUID) -> asyncio.Lock:
        return self._locks[repo_id]

    async def start(self) -> None:
        if self.background:
            self.outbox.start()
            self.poller.start()
            self.commands.start()

    async def stop(self) -> None:
        await self.commands.stop()
        await self.poller.stop()
        await self.outbox.stop()
        await self.clients.aclose()
