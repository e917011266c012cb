"""Connected runners: the WebSocket side of the runner protocol (lazyaf_protocol.messages).

The database decides who runs a job; a socket only carries wake-ups and messages. Each message
is handled in its own transaction, and every job write goes through lazyaf.orchestration, fenced by
(job, attempt) and by the connection's own runner: a runner speaks only for itself and for the
attempt it holds.

Who may connect (``_admit``; the principal comes from auth.py, the credential from the upgrade
request's ``Authorization`` header):

* a runner secret: that runner, whose row must exist; a hello naming another id is refused;
* the registration token, or LAZYAF_TOKEN (the user): a new runner row, whose runner secret the
  welcome carries (once); a hello naming an id is refused (it needs that runner's secret);
* nothing else, on loopback too: the socket closes with the reason before any job is offered.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from lazyaf_protocol import messages as protocol
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf import auth
from lazyaf.agents import service as agent_service
from lazyaf.cards.models import Card
from lazyaf.conflicts.holds import RELEASING_STATUSES
from lazyaf.db.engine import session_scope
from lazyaf.events.models import BoardEvent
from lazyaf.events.schemas import EventType
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.orchestration import attempts, runners, runs
from lazyaf.orchestration.dispatch import Dispatcher
from lazyaf.redaction import server_redactor
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runners.gateway import reachable_url
from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)
HELLO_TIMEOUT = 10.0
# Frames a runner may have in flight before the backend stops reading its socket.
INBOX_SIZE = 10_000
# At most this many frames handled together (a run of events is one transaction).
BATCH_SIZE = 500
# How a heartbeat frame is told from the rest without parsing each frame (the wire format is
# pydantic's compact JSON, protocol.py).
HEARTBEAT_MARK = '"type":"heartbeat"'


class RunnerRefused(Exception):
    """A hello the connection's credential does not allow; ``reason`` is the close reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class RunnerConnection:
    runner_id: uuid.UUID
    name: str
    kind: str
    websocket: WebSocket
    base_url: str
    current: tuple[str, int] | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Agents this runner has a model credential of its own for (its hello): it is sent none of
    # this machine's, beyond the server's configured key or token.
    own_credentials: frozenset[str] = frozenset()
    # When a frame last came off the socket, and how many wait to be handled: a runner whose
    # frames are still being worked through is alive, whatever its lease says (the reaper asks).
    last_frame_at: float = field(default_factory=time.monotonic)
    pending: int = 0

    def heard_from_within(self, seconds: float) -> bool:
        return self.pending > 0 or time.monotonic() - self.last_frame_at < seconds

    async def send(self, message: protocol.Message) -> None:
        async with self.send_lock:
            await self.websocket.send_text(message.model_dump_json())


class RunnerHub:
    """Every connected runner, by id; wakes idle ones when a job is queued."""

    def heard_from(self, runner_id: uuid.UUID, job_id: str, attempt: int) -> bool:
        """Whether the connection that holds this attempt is open and its frames arrived within a
        lease period (or still wait to be handled): alive, even when its heartbeat is queued behind
        a flood of events. A runner restarted under the same id holds nothing yet: not heard."""
        conn = self.connections.get(runner_id)
        return (
            conn is not None
            and conn.current == (job_id, attempt)
            and conn.heard_from_within(self.settings.lease_ttl)
        )

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        credentials: auth.RunnerCredentials,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.credentials = credentials
        self.connections: dict[uuid.UUID, RunnerConnection] = {}
        self.connected = asyncio.Condition()
        self._wakes = 0  # round-robin position for wake_idle
        # The scheduler's decision the claims consult: limits and hold checks (orchestration/dispatch.py).
        self.dispatcher = Dispatcher(settings)
        # Told the id of each runner whose connection ended (the pool notices exited containers).
        self.on_disconnect: list[Callable[[uuid.UUID], None]] = []

    # -- reacting to board events (called by the bus pump, after commit) --

    def on_board_event(self, row: BoardEvent) -> None:
        if row.type == EventType.LIMITS_UPDATED and row.data["changed"]:
            self._spawn(self.wake_if_queued())  # a raised limit may release held work
            return
        if row.type == EventType.CARD_UPDATED and row.data["card"]["status"] in RELEASING_STATUSES:
            # A card left review or work: a card held behind it (conflict_policy hold) may start.
            self._spawn(self.wake_if_queued())
            return
        if row.type != EventType.JOB_STATUS:
            return
        job = row.data["job"]
        if job["status"] == JobStatus.QUEUED:
            self._spawn(self.wake_idle())
        elif job["status"] == JobStatus.RUNNING and job["cancel_requested"]:
            self._spawn(self.send_to_holder(job["id"], job["attempt"], protocol.Cancel))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def wake_idle(self) -> None:
        """Wake one idle runner per queued job: waking all of them costs a claim (a transaction)
        each, and all but one come back empty."""
        self._wakes += 1
        idle = [c for c in self.connections.values() if c.current is None]
        if idle:
            # Round robin, so one runner's slow claim does not hold up every wake-up.
            await self._safe_send(idle[self._wakes % len(idle)], protocol.Wake())

    async def send_to_holder(self, job_id: str, attempt: int, kind: type[protocol.Cancel]) -> None:
        for conn in list(self.connections.values()):
            if conn.current == (job_id, attempt):
                await self._safe_send(conn, kind(job_id=job_id, attempt=attempt))

    async def _safe_send(self, conn: RunnerConnection, message: protocol.Message) -> None:
        try:
            await conn.send(message)
        except Exception:  # the connection is closing; its handler cleans up
            log.debug("runner_send_failed", runner=conn.name, type=getattr(message, "type", "?"))

    async def shutdown_runner(self, runner_id: uuid.UUID) -> bool:
        conn = self.connections.get(runner_id)
        if conn is None:
            return False
        await self._safe_send(conn, protocol.Shutdown())
        return True

    async def wait_connected(self, runner_id: uuid.UUID, timeout: float) -> bool:
        async with self.connected:
            try:
                await asyncio.wait_for(
                    self.connected.wait_for(lambda: runner_id in self.connections), timeout
                )
            except TimeoutError:
                return False
        return True

    # -- one connection --

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT)
            spoken = _protocol_version(raw)
            if spoken != protocol.PROTOCOL_VERSION:
                # Before validating the rest: another version may shape its hello differently.
                reason = protocol.version_mismatch(spoken)
                log.warning("runner_refused", reason=reason)
                await websocket.close(code=protocol.CLOSE_PROTOCOL_MISMATCH, reason=reason)
                return
            hello = protocol.runner_message.validate_json(raw)
        except (TimeoutError, ValueError, WebSocketDisconnect):  # ValidationError is a ValueError
            await websocket.close(code=4400, reason="expected a hello message")
            return
        if not isinstance(hello, protocol.Hello):
            await websocket.close(code=4400, reason="expected a hello message")
            return
        try:
            conn = await self._register(websocket, hello, auth.principal_of(websocket))
        except RunnerRefused as refused:
            log.warning("runner_refused", name=hello.name[:100], reason=refused.reason)
            await websocket.close(code=refused.code, reason=auth.close_reason(refused.reason))
            return
        inbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=INBOX_SIZE)
        reader = asyncio.create_task(self._read(conn, inbox))
        try:
            while (batch := await self._next_batch(inbox)) is not None:
                try:
                    await self._handle_batch(conn, batch)
                finally:
                    conn.pending -= len(batch)
        finally:
            reader.cancel()
            await self._unregister(conn)

    async def _read(self, conn: RunnerConnection, inbox: asyncio.Queue[str | None]) -> None:
        """Move frames off the socket as they come (a full inbox pushes back on the runner).

        Heartbeats are handled here, at once, not queued behind thousands of agent events: a
        runner whose agent prints fast is alive, and its lease must say so.
        """
        try:
            while True:
                raw = await conn.websocket.receive_text()
                conn.last_frame_at = time.monotonic()
                if HEARTBEAT_MARK in raw:
                    try:
                        message = protocol.runner_message.validate_json(raw)
                    except ValidationError:
                        message = None
                    if isinstance(message, protocol.Heartbeat):
                        await self._heartbeat(conn, message)
                        continue
                conn.pending += 1
                await inbox.put(raw)
        except WebSocketDisconnect:
            pass
        finally:
            # The handler must learn the socket is gone even when the inbox is full.
            while True:
                try:
                    inbox.put_nowait(None)
                    break
                except asyncio.QueueFull:
                    inbox.get_nowait()

    @staticmethod
    async def _next_batch(inbox: asyncio.Queue[str | None]) -> list[str] | None:
        """What the runner sent since the last batch (at least one frame); None once it is gone."""
        first = await inbox.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < BATCH_SIZE and not inbox.empty():
            raw = inbox.get_nowait()
            if raw is None:
                inbox.put_nowait(None)  # seen again by the next call, after this batch is handled
                break
            batch.append(raw)
        return batch

    async def _handle_batch(self, conn: RunnerConnection, batch: list[str]) -> None:
        """Handle frames in order, each run of agent events in one transaction (an agent printing
        thousands of lines a second is stored as fast as it prints, not one commit per line)."""
        messages = []
        for raw in batch:
            try:
                messages.append(protocol.runner_message.validate_json(raw))
            except ValidationError as exc:
                log.warning("runner_message_invalid", runner=conn.name, error=str(exc)[:200])
        events: list[protocol.Event] = []
        for message in messages:
            if isinstance(message, protocol.Event):
                events.append(message)
                continue
            if events:
                await self._record_events(conn, events)
                events = []
            await self._handle(conn, message)
        if events:
            await self._record_events(conn, events)

    async def _record_events(self, conn: RunnerConnection, events: list[protocol.Event]) -> None:
        """Store a run of agent events in one transaction; ack each attempt's highest seq once."""
        by_attempt: dict[tuple[str, int], list[protocol.Event]] = {}
        for message in events:
            by_attempt.setdefault((message.job_id, message.attempt), []).append(message)
        held: dict[tuple[str, int], bool] = {}
        async with session_scope(self.sessionmaker) as session:
            for key, run in by_attempt.items():
                held[key] = await attempts.record_events(
                    session=session,
                    messages=run,
                    runner_id=conn.runner_id,
                    lease_ttl=self.settings.lease_ttl,
                    redactor=server_redactor(self.settings),
                )
        for (job_id, attempt), ok in held.items():
            if ok:
                seq = max(m.seq for m in by_attempt[(job_id, attempt)])
                await conn.send(protocol.Ack(job_id=job_id, attempt=attempt, seq=seq))
            else:
                await self._revoke(conn, job_id, attempt)

    async def _revoke(self, conn: RunnerConnection, job_id: str, attempt: int) -> None:
        """Tell the runner the attempt is no longer its own; a runner that held it is free again
        (it claims once its agent is gone: waking it is left to that claim)."""
        await conn.send(protocol.Revoked(job_id=job_id, attempt=attempt))
        if conn.current == (job_id, attempt):
            conn.current = None

    async def _register(
        self, websocket: WebSocket, hello: protocol.Hello, principal: auth.Principal
    ) -> RunnerConnection:
        async with session_scope(self.sessionmaker) as session:
            runner, secret = await self._admit(session, hello, principal)
            runner.agents, runner.version = hello.agents, hello.version or None
            runner.credentials = {agent: found.model_dump() for agent, found in hello.credentials.items()}
            conn = RunnerConnection(
                runner.id, runner.name, runner.kind, websocket, _http_base(websocket),
                own_credentials=frozenset(hello.credentials),
            )
            status = RunnerStatus.IDLE
            if hello.running is not None:
                job = await attempts.holding(
                    session, hello.running.job_id, hello.running.attempt, runner_id=runner.id
                )
                if job is not None:
                    conn.current = (hello.running.job_id, hello.running.attempt)
                    status = RunnerStatus.BUSY
                    # Back after an outage: the reconnect itself renews the attempt's lease.
                    await attempts.renew_lease(
                        session=session, settings=self.settings, runner_id=runner.id,
                        job_id=hello.running.job_id, attempt=hello.running.attempt,
                    )
            await runners.seen(session=session, runner=runner, status=status)
        old = self.connections.get(conn.runner_id)
        self.connections[conn.runner_id] = conn
        if old is not None:
            await old.websocket.close(code=4409, reason="replaced by a newer connection")
        await conn.send(
            protocol.Welcome(
                runner_id=str(conn.runner_id),
                lease_ttl=self.settings.lease_ttl,
                heartbeat_interval=self.settings.lease_ttl / 3,
                runner_secret=secret,
            )
        )
        if hello.running is not None and conn.current is None:
            await conn.send(protocol.Revoked(job_id=hello.running.job_id, attempt=hello.running.attempt))
        async with self.connected:
            self.connected.notify_all()
        log.info("runner_connected", runner=conn.name, kind=conn.kind, resumed=conn.current is not None)
        return conn

    async def _admit(
        self, session: AsyncSession, hello: protocol.Hello, principal: auth.Principal
    ) -> tuple[Runner, str | None]:
        """The runner row this connection speaks for, and the runner secret to hand it (new runners).

        Raises RunnerRefused when the credential does not allow what the hello asks."""
        if isinstance(principal, auth.RunnerPrincipal):
            if hello.runner_id is not None and hello.runner_id != str(principal.runner_id):
                raise RunnerRefused(
                    protocol.CLOSE_FORBIDDEN,
                    "This runner secret belongs to another runner id than the hello names.",
                )
            runner = await session.get(Runner, principal.runner_id)
            if runner is None:
                raise RunnerRefused(
                    protocol.CLOSE_FORBIDDEN,
                    "This runner was removed from the server; start it again with LAZYAF_RUNNER_TOKEN.",
                )
            return runner, None
        if isinstance(principal, auth.RegistrationPrincipal) or (
            isinstance(principal, auth.UserPrincipal) and principal.with_token
        ):
            if hello.runner_id is not None:
                raise RunnerRefused(
                    protocol.CLOSE_FORBIDDEN,
                    "A hello naming a runner id must carry that runner's secret (LAZYAF_RUNNER_SECRET).",
                )
            kind = hello.kind if hello.kind in RunnerKind.__members__.values() else RunnerKind.REMOTE
            runner = Runner(name=hello.name[:100], kind=kind, status=RunnerStatus.OFFLINE)
            session.add(runner)
            await session.flush()
            log.info("runner_registered", runner=runner.name, runner_id=str(runner.id))
            return runner, self.credentials.runner_secret(runner.id)
        raise RunnerRefused(
            protocol.CLOSE_UNAUTHORIZED,
            "Runners must authenticate: set LAZYAF_RUNNER_TOKEN (see lazyaf runner --help).",
        )

    async def _unregister(self, conn: RunnerConnection) -> None:
        if self.connections.get(conn.runner_id) is not conn:
            return
        del self.connections[conn.runner_id]
        async with session_scope(self.sessionmaker) as session:
            runner = await session.get(Runner, conn.runner_id)
            if runner is not None:
                await runners.offline(session=session, runner=runner)
        log.info("runner_disconnected", runner=conn.name)
        for callback in self.on_disconnect:
            callback(conn.runner_id)

    async def _handle(self, conn: RunnerConnection, message: Any) -> None:
        if isinstance(message, protocol.Claim):
            await self._claim(conn)
        elif isinstance(message, protocol.Heartbeat):
            await self._heartbeat(conn, message)
        elif isinstance(message, protocol.Event):
            await self._record_events(conn, [message])
        elif isinstance(message, protocol.Progress):
            async with session_scope(self.sessionmaker) as session:
                job = await attempts.record_progress(
                    session=session, job_id=message.job_id, attempt=message.attempt, phase=message.phase,
                    runner_id=conn.runner_id,
                )
            if job is None:
                await self._revoke(conn, message.job_id, message.attempt)
        elif isinstance(message, protocol.Complete):
            await self._complete(conn, message)

    async def _claim(self, conn: RunnerConnection) -> None:
        if conn.current is not None:
            await conn.send(protocol.NoJob())
            return
        async with session_scope(self.sessionmaker) as session:
            claimed = await self.dispatcher.claim(session=session, runner_id=conn.runner_id)
            assign = None
            if claimed:
                job, card, repo, token = claimed
                assign = self._assignment(conn, job, card, repo, token)
                assign.trailers, assign.continues = await runs.assignment(session, job, repo)
        if assign is None:
            await conn.send(protocol.NoJob())
            return
        # After the commit: the claim's transaction (SQLite's write lock) does not wait for git.
        path = git_path(self.settings, repo)
        assign.base_sha, assign.branch_sha = await in_thread(
            git_refs.branch_shas, path, assign.base_branch, assign.branch
        )
        conn.current = (assign.job_id, assign.attempt)
        # If this send fails the attempt never starts; its lease expires and the job is requeued.
        await conn.send(assign)
        await self.wake_if_queued()

    async def wake_if_queued(self) -> None:
        """Wake another idle runner while jobs wait (the chain that replaces waking everyone)."""
        async with self.sessionmaker() as session:
            waiting = await session.scalar(select(Job.id).where(Job.status == JobStatus.QUEUED).limit(1))
        if waiting is not None:
            await self.wake_idle()

    def _assignment(
        self, conn: RunnerConnection, job: Job, card: Card, repo: Repo, token: str
    ) -> protocol.Assign:
        options: dict[str, Any] = {}
        if job.agent == "command" and self.settings.agent_command:
            options["template"] = shlex.split(self.settings.agent_command)
        env = {}
        # The model credential (agents/service.py): the server's key or token, or for a runner
        # with none of its own what this machine has (a small file read at most, like the refs).
        credential = agent_service.for_assignment(
            self.settings, job.agent, runner_has_own=job.agent in conn.own_credentials
        )
        # A loopback URL means the server's machine; a runner that dialed another address of it
        # (a Docker runner: the gateway) reaches it there.
        if self.settings.anthropic_base_url:
            env["ANTHROPIC_BASE_URL"] = reachable_url(self.settings.anthropic_base_url, conn.base_url)
        public = self.settings.public_url
        base = reachable_url(public.rstrip("/"), conn.base_url) if public else conn.base_url
        verify = runs.checks_for(job, repo)
        return protocol.Assign(
            kind=job.kind,
            resume_session=job.resume_session,
            session_url=f"{base}/api/sessions/{job.resume_session}" if job.resume_session else None,
            session_upload_url=f"{base}/api/jobs/{job.id}/session?attempt={job.attempt}",
            verify=verify,
            job_id=str(job.id),
            attempt=job.attempt,
            card_id=str(card.id),
            card_title=card.title,
            repo_url=f"{base}/git/{repo.id}.git",
            token=token,
            branch=job.branch,
            base_branch=job.base_branch,
            attempt_ref=protocol.attempt_ref(str(job.id), job.attempt),
            prompt=job.prompt,
            agent=job.agent,
            agent_options=options,
            timeout_s=self.settings.job_timeout,
            env=env,
            agent_config_from_base=job.agent_config_from_base,
            credential=credential,
        )

    async def _heartbeat(self, conn: RunnerConnection, message: protocol.Heartbeat) -> None:
        cancel = False
        revoked = False
        async with session_scope(self.sessionmaker) as session:
            runner = await session.get(Runner, conn.runner_id)
            if runner is not None:
                await runners.seen(session=session, runner=runner)
            if message.job_id is not None and message.attempt is not None:
                job = await attempts.renew_lease(
                    session=session, settings=self.settings, job_id=message.job_id, attempt=message.attempt,
                    runner_id=conn.runner_id,
                )
                revoked = job is None
                cancel = job is not None and job.cancel_requested
        if revoked and message.job_id is not None and message.attempt is not None:
            await self._revoke(conn, message.job_id, message.attempt)
        elif cancel and message.job_id is not None and message.attempt is not None:
            await conn.send(protocol.Cancel(job_id=message.job_id, attempt=message.attempt))

    async def _complete(self, conn: RunnerConnection, message: protocol.Complete) -> None:
        async with session_scope(self.sessionmaker) as session:
            accepted = await runs.complete_attempt(
                session=session, settings=self.settings, message=message, runner_id=conn.runner_id
            )
            runner = await session.get(Runner, conn.runner_id)
            if runner is not None:
                await runners.seen(session=session, runner=runner, status=RunnerStatus.IDLE)
        if conn.current == (message.job_id, message.attempt):
            conn.current = None
        await conn.send(
            protocol.CompleteAck(job_id=message.job_id, attempt=message.attempt, accepted=accepted)
        )


def _protocol_version(raw: str) -> object:
    """The protocol version a hello frame states (1 when it states none: the first runners)."""
    frame = json.loads(raw)
    if not isinstance(frame, dict) or frame.get("type") != "hello":
        raise ValueError("not a hello")
    return frame.get("protocol", 1)


def _http_base(websocket: WebSocket) -> str:
    url = websocket.url
    scheme = "https" if url.scheme == "wss" else "http"
    return f"{scheme}://{url.netloc}"
