"""The comment poller: the second door, for servers GitHub's webhooks cannot reach (the usual local case).

Per linked repo with commands and ``poll_comments`` on and someone on its allowlist (else no comment
could pass the gate, and GitHub is not asked), every ``poll_interval_s``: the issue
comments (``GET /repos/{o}/{r}/issues/comments``) and the review comments
(``GET /repos/{o}/{r}/pulls/comments``) updated ``since`` the cursor, oldest first. The first page
is asked with the ETag kept in the database (``If-None-Match``: an unchanged list is a 304 and costs
no quota); further pages follow when a page is full.

Each new comment that mentions the phrase and was made after polling began (``commands_from``:
old comments never become commands) is stored as a delivery (``poll:<kind>:<id>``, so a second
look at the same comment stores nothing) carrying the same normalized event a webhook would
have brought; the worker then treats it exactly like one. A comment that came by webhook as
well is one command: commands are unique by comment (``github_command.comment_key``).

Review summaries (``pull_request_review``) have no repository-wide list on GitHub: they arrive by
webhook only.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lazyaf.db.engine import session_scope
from lazyaf.github.client import GitHubClient
from lazyaf.github.clients import observe_quota
from lazyaf.github.commands import grammar, linksettings
from lazyaf.github.commands.events import Malformed, from_polled
from lazyaf.github.commands.models import GitHubDelivery
from lazyaf.github.commands.progress import SESSION_FLAG
from lazyaf.github.errors import GitHubError
from lazyaf.github.models import GitHubLink

log = structlog.get_logger(__name__)

TICK = 1.0
PER_PAGE = 100
MAX_PAGES = 20
SOURCES = (
    ("issue_comment", "issues/comments", "comments_since", "comments_etag"),
    ("review_comment", "pulls/comments", "review_comments_since", "review_comments_etag"),
)


def _iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class CommentPoller:
    def __init__(self, commands: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.commands = commands
        self.clock = clock
        self._last: dict[uuid.UUID, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="github-comment-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def reset(self, repo_id: uuid.UUID) -> None:
        """Poll this repo at the next tick (its settings changed)."""
        self._last.pop(repo_id, None)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("github_comment_poll_failed")
            await asyncio.sleep(TICK)

    async def tick(self, now: float | None = None) -> list[uuid.UUID]:
        """Poll every repo that is due at ``now``; the repos polled."""
        now = self.clock() if now is None else now
        async with self.commands.sessionmaker() as session:
            links = (
                await session.scalars(
                    select(GitHubLink).where(
                        GitHubLink.commands_enabled.is_(True),
                        GitHubLink.poll_comments.is_(True),
                        GitHubLink.token.is_not(None),
                    )
                )
            ).all()
        polled = []
        for link in links:
            if not linksettings.polls(link) or link.commands_from is None:
                continue
            last = self._last.get(link.repo_id)
            if last is not None and now - last < link.poll_interval_s:
                continue
            self._last[link.repo_id] = now
            polled.append(link.repo_id)
            try:
                await self.poll(link)
            except GitHubError as exc:  # the next interval tries again
                log.info("github_comment_poll_error", repo_id=str(link.repo_id), error=exc.detail)
        return polled

    async def poll(self, link: GitHubLink) -> int:
        """One look at ``link``'s comments; how many new deliveries were stored."""
        client = self.commands.github.clients.for_link(link)
        stored = 0
        for kind, path, since_field, etag_field in SOURCES:
            found, since, etag = await self._list(
                client, link, path, getattr(link, since_field), getattr(link, etag_field)
            )
            stored += await self._store(link, kind, found)
            async with session_scope(self.commands.sessionmaker) as session:
                current = await session.get(GitHubLink, link.id)
                if current is None:
                    return stored
                setattr(current, since_field, since)
                setattr(current, etag_field, etag)
                observe_quota(current, client)
        return stored

    async def _list(
        self, client: GitHubClient, link: GitHubLink, path: str, since: str | None, etag: str | None
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        start = (
            link.commands_from.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if link.commands_from else None
        )
        params: dict[str, Any] = {"sort": "updated", "direction": "asc", "per_page": PER_PAGE}
        if since or start:
            params["since"] = since or start
        url = f"/repos/{link.owner}/{link.name}/{path}"
        first = await client.get_conditional(url, params, etag=etag)
        if not first.modified:
            return [], since, etag
        items: list[dict[str, Any]] = list(first.data or [])
        page = 1
        while len(items) == page * PER_PAGE and page < MAX_PAGES:
            page += 1
            more = await client.request("GET", url, params={**params, "page": page})
            if not more:
                break
            items += more
        newest = max((str(i.get("updated_at") or "") for i in items), default="") or since
        return items, newest, first.etag

    async def _store(self, link: GitHubLink, kind: str, items: list[dict[str, Any]]) -> int:
        start = link.commands_from
        stored = 0
        for item in items:
            created = _iso(item.get("created_at"))
            if start is not None and (created is None or created < start.replace(microsecond=0)):
                continue  # made before polling began (or only edited since): not a command
            if item.get("updated_at") and item.get("updated_at") != item.get("created_at"):
                continue  # edited: an edit is no command (a webhook's "edited" is not one either)
            if not grammar.mentions(str(item.get("body") or ""), link.trigger_phrase):
                continue
            try:
                event = from_polled(kind, link.full_name, item)
            except Malformed as exc:
                log.info("github_comment_unreadable", repo_id=str(link.repo_id), error=str(exc))
                continue
            delivery_id = f"poll:{kind}:{event.comment_id}"
            try:
                async with session_scope(self.commands.sessionmaker) as session:
                    if await session.scalar(
                        select(GitHubDelivery.id).where(GitHubDelivery.delivery_id == delivery_id)
                    ):
                        continue  # seen at an earlier poll
                    session.add(
                        GitHubDelivery(
                            delivery_id=delivery_id,
                            source="poll",
                            repo_id=link.repo_id,
                            repository=link.full_name,
                            event=event.event,
                            action=event.action,
                            payload=event.to_json(),
                        )
                    )
                    session.info[SESSION_FLAG] = True
            except IntegrityError:
                continue
            stored += 1
        return stored
