"""The durable outbox: every write to GitHub is a row first, done by a worker, at least once.

Guarantees:

* **Durable.** ``enqueue`` adds the row in the caller's transaction: a write is either asked for
  and recorded, or neither. The worker takes due rows one at a time; a row it was running when
  the server died is run again after a restart.
* **Applied once.** Because a row may run twice (a crash after GitHub applied it; a 502 that hid
  a success), every operation looks for its own result first — the pull request by its head
  branch, the comment by a marker — and only then creates it. The client never repeats a POST
  by itself (github/client.py); the outbox repeats the whole idempotent operation.
* **Retried with backoff.** A failure that time may fix (GitHub down, a 5xx, a rate limit) waits
  ``github_retry_base`` seconds, doubling up to an hour (a rate limit waits for its reset), up
  to ``MAX_ATTEMPTS``. One that it will not fix (a revoked token, no write access, no such
  repository, a refused push) is **held**: the row keeps the write and the error, which is shown
  on the card and the link, and goes back in the queue when the link is fixed (PUT or a
  verification that passes) or the write is asked for again.

An operation is a ``Handler``: ``perform`` talks to GitHub with nothing of the database open and
returns a JSON result; ``applied`` records it (and may enqueue the next write) in the same
transaction that marks the row done; ``failed`` shows an error where people look.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from lazyaf.db.engine import session_scope
from lazyaf.github import links
from lazyaf.github.client import GitHubClient
from lazyaf.github.clients import observe_quota
from lazyaf.github.errors import GitHubAuthFailed, GitHubError, GitHubRateLimited
from lazyaf.github.models import GitHubLink, GitHubOutbox, OutboxStatus

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 12
MAX_BACKOFF = 3600.0
IDLE_WAIT = 60.0
SESSION_FLAG = "github_outbox"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    """What ``perform`` gets: the row's data and a client and token for its link."""

    op_id: uuid.UUID
    repo_id: uuid.UUID
    card_id: uuid.UUID | None
    payload: dict[str, Any]
    link: GitHubLink  # detached: read it, do not change it
    client: GitHubClient
    token: str
    service: Any


class Handler(Protocol):
    async def perform(self, job: Job) -> dict[str, Any]: ...

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None: ...

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None: ...


HANDLERS: dict[str, Handler] = {}


async def enqueue(
    session: AsyncSession,
    *,
    repo_id: uuid.UUID,
    op: str,
    idem_key: str,
    payload: dict[str, Any],
    card_id: uuid.UUID | None = None,
) -> GitHubOutbox:
    """Ask for a write (in the caller's transaction). The same ``idem_key`` again runs it again:
    the operation finds what the last run did instead of doing it twice."""
    assert op in HANDLERS, f"no outbox handler for {op}"
    row: GitHubOutbox | None = await session.scalar(
        select(GitHubOutbox).where(GitHubOutbox.idem_key == idem_key)
    )
    if row is None:
        row = GitHubOutbox(repo_id=repo_id, card_id=card_id, op=op, idem_key=idem_key, payload=payload)
        session.add(row)
    elif row.status != OutboxStatus.RUNNING:
        row.payload, row.status, row.attempts = payload, OutboxStatus.PENDING, 0
        row.next_attempt_at, row.last_error, row.done_at = utcnow(), None, None
    session.info[SESSION_FLAG] = True
    await session.flush()
    return row


def backoff(base: float, attempts: int) -> float:
    """Seconds before retry number ``attempts`` (1, 2, …): base, 2·base, 4·base… up to an hour."""
    return float(min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


class Outbox:
    """The worker: runs due rows one at a time, woken by commits that enqueued, else by the clock."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._doorbell = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Callable[[Session], None] | None = None
        self._session_class: type[Session] = service.sessionmaker.kw["sync_session_class"]
        self.after_run: list[Callable[[], Awaitable[None]]] = []

    def start(self) -> None:
        def after_commit(sync_session: Session) -> None:
            if sync_session.info.pop(SESSION_FLAG, False):
                self.wake()

        self._listener = after_commit
        event.listen(self._session_class, "after_commit", after_commit)
        self._task = asyncio.create_task(self._run(), name="github-outbox")

    async def stop(self) -> None:
        if self._listener is not None:
            event.remove(self._session_class, "after_commit", self._listener)
            self._listener = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        self._doorbell.set()

    async def recover(self) -> int:
        """Rows left running by a server that died go back in the queue (they are idempotent)."""
        async with session_scope(self.service.sessionmaker) as session:
            result = await session.execute(
                update(GitHubOutbox)
                .where(GitHubOutbox.status == OutboxStatus.RUNNING)
                .values(status=OutboxStatus.PENDING, next_attempt_at=utcnow())
            )
        count: int = result.rowcount  # type: ignore[attr-defined]
        if count:
            log.info("github_outbox_recovered", count=count)
        return count

    async def _run(self) -> None:
        await self.recover()
        while True:
            self._doorbell.clear()
            try:
                await self.run_due()
                wait = await self._next_wait()
            except Exception:
                log.exception("github_outbox_failed")
                wait = 5.0
            try:
                await asyncio.wait_for(self._doorbell.wait(), wait)
            except TimeoutError:
                pass

    async def _next_wait(self) -> float:
        async with self.service.sessionmaker() as session:
            due = await session.scalar(
                select(func.min(GitHubOutbox.next_attempt_at)).where(
                    GitHubOutbox.status == OutboxStatus.PENDING
                )
            )
        if due is None:
            return IDLE_WAIT
        if due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        seconds: float = (due - utcnow()).total_seconds()
        return max(0.0, min(IDLE_WAIT, seconds))

    async def run_due(self, now: datetime | None = None) -> int:
        """Run every row due at ``now`` (default: now), oldest first; how many ran."""
        ran = 0
        while True:
            # Rows enqueued by this pass (a comment after its pull request) are due too.
            row_id = await self._claim(max(now, utcnow()) if now else utcnow())
            if row_id is None:
                break
            await self._run_one(row_id)
            ran += 1
        for callback in self.after_run:
            await callback()
        return ran

    async def _claim(self, now: datetime) -> uuid.UUID | None:
        async with session_scope(self.service.sessionmaker) as session:
            row_id = await session.scalar(
                select(GitHubOutbox.id)
                .where(GitHubOutbox.status == OutboxStatus.PENDING, GitHubOutbox.next_attempt_at <= now)
                .order_by(GitHubOutbox.next_attempt_at, GitHubOutbox.created_at)
                .limit(1)
            )
            if row_id is None:
                return None
            claimed = await session.execute(
                update(GitHubOutbox)
                .where(GitHubOutbox.id == row_id, GitHubOutbox.status == OutboxStatus.PENDING)
                .values(status=OutboxStatus.RUNNING)
            )
            return row_id if claimed.rowcount else None  # type: ignore[attr-defined]

    async def _run_one(self, row_id: uuid.UUID) -> None:
        service = self.service
        client: GitHubClient | None = None
        try:
            async with service.sessionmaker() as session:
                row = await session.get(GitHubOutbox, row_id)
                assert row is not None
                link = await links.get(session, row.repo_id)
                if link is None:
                    raise GitHubError(
                        "The repo is no longer linked to GitHub; link it again to resume this write."
                    )
                if link.token is None:
                    raise GitHubAuthFailed("The repo's GitHub link has no token; link it again with a token.")
                client = service.clients.for_link(link)
                job = Job(
                    op_id=row.id,
                    repo_id=row.repo_id,
                    card_id=row.card_id,
                    payload=dict(row.payload),
                    link=link,
                    client=client,
                    token=service.clients.token(link),
                    service=service,
                )
                handler = HANDLERS[row.op]
            result = await handler.perform(job)
        except GitHubError as exc:
            await self._failed(row_id, exc, client)
            return
        except Exception as exc:  # a bug: keep the write, say where to look
            log.exception("github_outbox_op_crashed", op_id=str(row_id))
            await self._failed(
                row_id,
                GitHubError(f"LazyAF failed doing this write ({type(exc).__name__}); see the server log."),
                client,
            )
            return
        async with session_scope(service.sessionmaker) as session:
            row = await session.get(GitHubOutbox, row_id)
            assert row is not None
            row.status, row.result, row.done_at, row.last_error = OutboxStatus.DONE, result, utcnow(), None
            row.attempts += 1
            await HANDLERS[row.op].applied(session, row, result)
            link = await links.get(session, row.repo_id)
            if link is not None:
                observe_quota(link, client)
                await links.changed(session, link)
        log.info("github_write_done", op=row.op, op_id=str(row_id))

    async def _failed(self, row_id: uuid.UUID, exc: GitHubError, client: GitHubClient | None) -> None:
        base = self.service.settings.github_retry_base
        async with session_scope(self.service.sessionmaker) as session:
            row = await session.get(GitHubOutbox, row_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = exc.detail
            held = not exc.retryable or row.attempts >= MAX_ATTEMPTS
            if held:
                row.status = OutboxStatus.HELD
            else:
                row.status = OutboxStatus.PENDING
                wait = backoff(base, row.attempts)
                if isinstance(exc, GitHubRateLimited):
                    wait = max(wait, exc.retry_at - self.service.clients.clock())
                row.next_attempt_at = utcnow() + timedelta(seconds=wait)
            handler = HANDLERS.get(row.op)
            if handler is not None:
                await handler.failed(session, row, exc.detail, held=held)
            link = await links.get(session, row.repo_id)
            if link is not None:
                links.record_error(link, exc.detail)
                if client is not None:
                    observe_quota(link, client)
                await links.changed(session, link)
        log.warning("github_write_failed", op_id=str(row_id), held=held, error=exc.detail)
