"""One ``GitHubClient`` per link, kept between polls (its ETags and quota live in it).

The token is opened from its sealed column only here, at the moment a client is made, and
lives on only inside that client's auth hook and in the environment of a git process
(``gitremote``). Tests replace ``transport``, ``clock`` and ``sleep`` to talk to a fake GitHub
in-process without waiting.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
import httpx

from lazyaf.errors import Conflict
from lazyaf.github.client import GitHubClient
from lazyaf.github.models import GitHubLink
from lazyaf.secretbox import KeyStore
from lazyaf.settings import Settings


class GitHubClients:
    def __init__(self, settings: Settings, secrets: KeyStore) -> None:
        self.settings = settings
        self.secrets = secrets
        self.transport: httpx.AsyncBaseTransport | None = None
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self._clients: dict[uuid.UUID, tuple[str, GitHubClient]] = {}
        self._retired: list[GitHubClient] = []  # replaced clients, closed at shutdown

    def token(self, link: GitHubLink) -> str:
        """The link's token in clear, for this one use; a clear 409 when there is none."""
        if link.token is None:
            raise Conflict(
                f"The GitHub link of this repo ({link.full_name}) has no token; link it again with a token."
            )
        return self.secrets.keyring().open(link.token)

    def for_link(self, link: GitHubLink) -> GitHubClient:
        """The link's client: made on first use, made again when the token or API URL changed."""
        token = self.token(link)
        fingerprint = hashlib.sha256(f"{link.api_url}\0{token}".encode()).hexdigest()
        cached = self._clients.get(link.id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        client = GitHubClient(
            token,
            api_url=link.api_url,
            clock=self.clock,
            sleep=self.sleep,
            mutation_gap=self.settings.github_mutation_gap,
            transport=self.transport,
        )
        self._clients[link.id] = (fingerprint, client)
        if cached is not None:
            self._retired.append(cached[1])
        return client

    def forget(self, link_id: uuid.UUID) -> None:
        cached = self._clients.pop(link_id, None)
        if cached is not None:
            self._retired.append(cached[1])

    async def aclose(self) -> None:
        clients = [c for _, c in self._clients.values()] + self._retired
        self._clients.clear()
        self._retired = []
        for client in clients:
            await client.aclose()


def observe_quota(link: GitHubLink, client: GitHubClient) -> None:
    """Copy the client's last seen core quota onto the link (shown on the board)."""
    quota = client.rate_limit
    if quota is None:
        return
    link.rate_limit_limit = quota.limit
    link.rate_limit_remaining = quota.remaining
    link.rate_limit_reset_at = datetime.fromtimestamp(quota.reset_at, UTC)
