"""The runner's side of the protocol: connect, say hello, claim, run jobs, report, reconnect.

A job keeps running while the backend is away; its events and its completion wait in an outbox
and are resent after reconnecting until the backend acknowledges them (it drops duplicates).

Credentials (lazyaf_protocol.messages): the socket and git fetches present the runner secret (or,
until the welcome hands one over, the registration token); a push and the session files present
the attempt's own token. A refused hello (close code 4401, 4403, or 4426 for another protocol
version) ends the runner with the reason.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
from lazyaf_protocol import messages as protocol
from lazyaf_protocol.redact import Redactor, redact_complete, secrets_in_environment
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from lazyaf_runner import __version__, agent_config, conflicts, credentials, verify
from lazyaf_runner.agents import make_adapter
from lazyaf_runner.agents.base import AgentEvent, AgentOutcome
from lazyaf_runner.environment import agent_environment, check_pass_env, verification_environment
from lazyaf_runner.hardening import default_work_root, prepare_work_root
from lazyaf_runner.mirror import GitCache
from lazyaf_runner.process import run_agent, stop_everything_else
from lazyaf_runner.workspace import Workspace, WorkspaceError, git_environment

log = structlog.get_logger(__name__)

PHASE_QUIET = 0.1
"""A phase over within this many seconds is not reported (each report is a transaction and a
board event on the server; "agent" is always reported, at once: it decides how a lost job ends)."""
PUSH_RETRY_FOR = 120.0
"""Seconds to keep pushing while the server does not answer: a backend restart must not fail
the work of an agent that ran through it."""


@dataclass
class RunningJob:
    assign: protocol.Assign
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    revoked: bool = False
    next_seq: int = 1
    task: asyncio.Task[None] | None = None
    # Every secret this attempt knows of (the runner's, the server's, the git credential).
    redactor: Redactor = field(default_factory=Redactor)
    # The model credential a Claude Code run uses (credentials.choose), None for other agents.
    credential: credentials.Choice | None = None
    # A phase waiting out PHASE_QUIET before it is reported, and whether it is being sent.
    phase: asyncio.Task[None] | None = None
    phase_sending: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.assign.job_id, self.assign.attempt)


class RunnerClient:
    def __init__(
        self,
        *,
        server: str,
        name: str,
        kind: str = "local",
        token: str | None = None,
        registration_token: str | None = None,
        secret: str | None = None,
        runner_id: str | None = None,
        work_root: Path | None = None,
        max_disconnected: float | None = None,
        pass_env: Iterable[str] = (),
    ) -> None:
        self.server = server.rstrip("/")
        self.name = name
        self.kind = kind
        self.token = token
        self.registration_token = registration_token
        self.secret = secret
        self.runner_id = runner_id or (protocol.runner_id_of_secret(secret) if secret else None)
        # Why the server refused this runner, once it did (the runner then stops).
        self.refused: str | None = None
        # One folder per card under a work root of the runner's own (hardening.py). Claude Code
        # ties a session to its working directory: a follow-up job restores the session file
        # under this runner's path for the card (_fetch_session).
        self.work_root = prepare_work_root(work_root or default_work_root())
        if removed := credentials.remove_leftover_copies(self.work_root):
            log.info("claude_login_copies_removed", count=removed)
        # Extra variables agents and verification commands may see (never LAZYAF_*).
        self.pass_env = check_pass_env(pass_env)
        # Mirrors of the repos and a spare checkout, reused from job to job (mirror.py).
        self.cache = GitCache(self.work_root / ".cache", git_environment(secret))
        self.max_disconnected = max_disconnected
        self.heartbeat_interval = 15.0
        self.job: RunningJob | None = None
        self.outbox: list[protocol.Message] = []
        self.ws: ClientConnection | None = None
        self.stopping = False
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._revoked_task: asyncio.Task[None] | None = None

    @property
    def ws_url(self) -> str:
        scheme, rest = self.server.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/runners/connect"

    # -- connection loop --

    async def run(self) -> None:
        """Connect and serve until told to shut down; reconnect with backoff in between."""
        delay = 0.2
        disconnected_since = asyncio.get_running_loop().time()
        while not self.stopping:
            try:
                credential = self.secret or self.registration_token or self.token
                headers = {"Authorization": f"Bearer {credential}"} if credential else {}
                async with connect(
                    self.ws_url,
                    additional_headers=headers,
                    max_size=None,
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                ) as ws:
                    delay = 0.2
                    await self._session(ws)
            except (OSError, WebSocketException, TimeoutError) as exc:
                close = exc.rcvd if isinstance(exc, ConnectionClosed) else None
                if close is not None and close.code in protocol.CLOSE_REFUSED:
                    self.refused = close.reason or f"closed with code {close.code}"
                    self.stopping = True
                    log.error("runner_refused", server=self.server, reason=self.refused)
                elif isinstance(exc, InvalidStatus) and exc.response.status_code in (
                    401,
                    403,
                ):
                    log.error("runner_unauthorized", server=self.server)
            finally:
                self.ws = None
            if self.stopping:
                break
            now = asyncio.get_running_loop().time()
            if (
                self.max_disconnected is not None
                and self.job is None
                and now - disconnected_since > self.max_disconnected
            ):
                log.warning("runner_giving_up", after=self.max_disconnected)
                break
            await asyncio.sleep(delay * (0.5 + random.random()))
            # While a job runs, retry at least once per heartbeat interval: the lease must be
            # renewed soon after the backend is back, or the job is declared lost.
            delay = min(delay * 2, 10.0 if self.job is None else max(0.2, self.heartbeat_interval / 2))
        if self.job is not None and self.job.task is not None:
            await asyncio.gather(self.job.task, return_exceptions=True)
        self.cache.close()

    async def _session(self, ws: ClientConnection) -> None:
        running = (
            protocol.AttemptRef(job_id=self.job.assign.job_id, attempt=self.job.assign.attempt)
            if self.job
            else None
        )
        own = await asyncio.to_thread(credentials.own_credential, os.environ)
        await ws.send(
            protocol.Hello(
                name=self.name,
                kind=self.kind,
                agents=["claude", "command"],
                version=__version__,
                protocol=protocol.PROTOCOL_VERSION,
                runner_id=self.runner_id,
                running=running,
                credentials={"claude": own} if own is not None else {},
            ).model_dump_json()
        )
        welcome = protocol.backend_message.validate_json(await ws.recv())
        if not isinstance(welcome, protocol.Welcome):
            return
        self.runner_id = welcome.runner_id
        if welcome.runner_secret:
            # Registered: who this runner is from now on (reconnects, git fetches).
            self.secret = welcome.runner_secret
            self.cache.env = git_environment(self.secret)
        self.heartbeat_interval = welcome.heartbeat_interval
        self.ws = ws
        log.info("runner_connected", server=self.server, runner_id=self.runner_id)
        heartbeat = asyncio.create_task(self._heartbeats())
        try:
            for message in list(self.outbox):
                await self._send(message)
            if self.job is None:
                await self._send(protocol.Claim())
            async for raw in ws:
                await self._on_message(protocol.backend_message.validate_json(raw))
                if self.stopping and self.job is None:
                    return
        except ConnectionClosed:
            pass
        finally:
            heartbeat.cancel()

    async def _send(self, message: protocol.Message) -> None:
        ws = self.ws
        if ws is None:
            return
        try:
            async with self._send_lock:
                await ws.send(message.model_dump_json())
        except ConnectionClosed:
            pass

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            job = self.job
            await self._send(
                protocol.Heartbeat(
                    job_id=job.assign.job_id if job else None,
                    attempt=job.assign.attempt if job else None,
                )
            )

    async def _on_message(self, message: Any) -> None:
        job = self.job
        if isinstance(message, protocol.Wake) and job is None and not self.stopping and not self._ending():
            await self._send(protocol.Claim())
        elif isinstance(message, protocol.Assign):
            self._start(message)
        elif isinstance(message, protocol.Ack):
            self.outbox = [
                m
                for m in self.outbox
                if not (
                    isinstance(m, protocol.Event | protocol.Progress)
                    and m.job_id == message.job_id
                    and m.attempt == message.attempt
                    and getattr(m, "seq", 0) <= message.seq
                )
            ]
        elif isinstance(message, protocol.CompleteAck):
            self.outbox = [
                m for m in self.outbox if not (m.job_id == message.job_id and m.attempt == message.attempt)
            ]  # type: ignore[attr-defined]
            if job is not None and job.key == (message.job_id, message.attempt):
                self.job = None
            if self.job is None and not self.stopping:
                await self._send(protocol.Claim())
        elif isinstance(message, protocol.Cancel | protocol.Revoked):
            if job is not None and job.key == (message.job_id, message.attempt):
                job.revoked = isinstance(message, protocol.Revoked)
                job.cancel.set()
                if job.revoked:
                    self._drop(job)
        elif isinstance(message, protocol.Shutdown):
            self.stopping = True  # the receive loop returns once no job is running

    def _drop(self, job: RunningJob) -> None:
        """Forget a revoked attempt: nothing it says matters any more."""
        self.outbox = [
            m
            for m in self.outbox
            if getattr(m, "job_id", None) != job.assign.job_id
            or getattr(m, "attempt", None) != job.assign.attempt
        ]
        if self.job is job:
            self.job = None
            self._revoked_task = job.task  # it claims again once its agent is gone (_execute)

    def _ending(self) -> bool:
        """A revoked attempt is still stopping its agent and cleaning up."""
        return self._revoked_task is not None and not self._revoked_task.done()

    # -- one job --

    def _start(self, assign: protocol.Assign) -> None:
        if self.job is not None:
            return
        job = RunningJob(assign)
        self.job = job
        job.task = asyncio.create_task(self._execute(job), name=f"job-{assign.job_id}")

    async def _emit(self, job: RunningJob, message: protocol.Message) -> None:
        if job.revoked:
            return
        self.outbox.append(message)
        await self._send(message)

    async def _progress(self, job: RunningJob, phase: str, *, at_once: bool = False) -> None:
        """Report that the attempt entered ``phase``: at once, or once it has lasted PHASE_QUIET."""
        await self._settle_phase(job)
        message = protocol.Progress(job_id=job.assign.job_id, attempt=job.assign.attempt, phase=phase)
        if at_once:
            await self._emit(job, message)
            return

        async def report_if_it_lasts() -> None:
            await asyncio.sleep(PHASE_QUIET)
            job.phase_sending = True
            await self._emit(job, message)

        job.phase_sending = False
        job.phase = asyncio.create_task(report_if_it_lasts())

    async def _settle_phase(self, job: RunningJob) -> None:
        """Drop the pending phase report, or let it finish if it is on its way (reports stay in order)."""
        task, job.phase = job.phase, None
        if task is None or task.done():
            return
        if job.phase_sending:
            await task
        else:
            task.cancel()

    def _redactor(self, assign: protocol.Assign) -> Redactor:
        """Every secret an attempt could print: the runner's environment (its token, its own
        model key), its user's Claude Code login, the server's credentials and the attempt
        token, the git credential."""
        own = credentials.read_login(os.environ)
        sent = assign.credential
        return Redactor.from_environment(
            os.environ,
            self.token,
            assign.token,
            *secrets_in_environment(assign.env),
            *(sent.env.values() if sent else ()),
            *(credentials.Login(sent.login).secrets if sent and sent.login else ()),
            *(own.secrets if own else ()),
            *secrets_in_environment(self.cache.env),
        )

    async def _execute(self, job: RunningJob) -> None:
        assign = job.assign
        job.redactor = await asyncio.to_thread(self._redactor, assign)
        workspace = Workspace(self.work_root / assign.card_id, cache=self.cache)
        complete = protocol.Complete(job_id=assign.job_id, attempt=assign.attempt, status="failed")
        try:
            if assign.agent == "claude":
                # Before cloning: a run without a credential fails at once, saying what to do.
                job.credential = await asyncio.to_thread(credentials.choose, os.environ, assign.credential)
                log.info("agent_credential", job_id=assign.job_id, kind=job.credential.kind)
            complete = await self._attempt(job, workspace, complete)
        except credentials.CredentialProblem as exc:
            complete.error = str(exc)
        except WorkspaceError as exc:
            complete.error = str(exc)
        except Exception as exc:  # a bug here must still end the job, never hang it
            log.exception("job_crashed", job_id=assign.job_id)
            complete.error = f"The runner failed unexpectedly: {type(exc).__name__}: {exc}"
        if job.cancel.is_set() and not job.revoked and complete.status != "completed":
            complete.status, complete.error = "cancelled", None
        await self._settle_phase(job)
        try:
            if not job.revoked:
                await self._emit(job, redact_complete(job.redactor, complete))
        finally:
            pushed = complete.status == "completed" and assign.kind != protocol.JobKind.VERIFY
            kept = False
            if pushed and complete.head_sha and not job.revoked and not self.stopping:
                # While the server records the completion: a workflow's next step starts from it.
                kept = await workspace.keep_pushed(assign.branch, complete.head_sha)
            if not self.stopping:
                # The next job's checkout, made in the background: on the branch just pushed when
                # the mirror kept it (the card's next step, queued with this completion, wants it).
                workspace.prepare_next(assign.branch if kept else None)
            # After reporting: removing a big work tree must not delay the completion.
            await asyncio.to_thread(workspace.remove)
            if job.revoked and self.job is None and not self.stopping:
                await self._send(protocol.Claim())  # no completion to be acknowledged: ask now

    async def _attempt(
        self, job: RunningJob, workspace: Workspace, complete: protocol.Complete
    ) -> protocol.Complete:
        assign = job.assign
        await self._progress(job, "cloning")
        await workspace.prepare(
            url=assign.repo_url,
            branch=assign.branch,
            base_branch=assign.base_branch,
            branch_sha=assign.branch_sha,
            base_sha=assign.base_sha,
        )
        complete.base_sha, complete.branch_start_sha = (
            workspace.base_sha,
            workspace.branch_start_sha,
        )
        if assign.kind == protocol.JobKind.VERIFY:
            return await self._verify_only(job, workspace, complete)
        merged: dict[str, str | None] = {}  # the files a resolve's merge left conflicting
        if assign.kind == protocol.JobKind.RESOLVE:
            merged = await conflicts.snapshot(
                workspace, await workspace.merge_base_branch(assign.base_branch)
            )
        if job.cancel.is_set():
            return complete
        swapped = None
        if assign.agent_config_from_base:
            assert workspace.base_sha is not None
            swapped = await agent_config.swap(workspace, workspace.base_sha)
        await self._progress(job, "agent", at_once=True)
        outcome = await self._run_agent(job, workspace)
        if swapped is not None:
            await agent_config.restore(workspace, swapped)
        for name in (
            "exit_code",
            "session_id",
            "cost_usd",
            "input_tokens",
            "output_tokens",
            "num_turns",
            "duration_ms",
        ):
            setattr(complete, name, getattr(outcome, name))
        if not outcome.ok:
            complete.error = outcome.reason or "The agent failed."
            return complete
        await self._progress(job, "committing")
        if refused := await self._conflicts_left(workspace, merged):
            complete.error, complete.conflict_files = refused
            return complete
        await workspace.commit_leftovers(commit_message(assign))
        complete.head_sha, complete.stats = await workspace.summary()
        if complete.stats.commits == 0:
            # A follow-up pass may rightly change nothing; a branch with no work at all is a failure.
            complete.error = "The agent finished without changing anything."
            return complete
        if assign.verify:
            await self._progress(job, "verifying")
            env = verification_environment(os.environ, identity=workspace.env, pass_env=self.pass_env)
            complete.verification = await verify.run_all(
                assign.verify, cwd=workspace.repo, env=env, timeout=assign.timeout_s
            )
        # In a container, nothing the agent or the checks started may be alive while git runs
        # with the runner's credential in its environment.
        await stop_everything_else()
        await self._progress(job, "pushing")
        await self._push(job, workspace)
        complete.status = "completed"
        return complete

    async def _verify_only(
        self, job: RunningJob, workspace: Workspace, complete: protocol.Complete
    ) -> protocol.Complete:
        """A workflow's verify step: the branch's checks, no agent, nothing committed or pushed."""
        assign = job.assign
        complete.head_sha, complete.stats = await workspace.summary()
        if job.cancel.is_set():
            return complete
        await self._progress(job, "verifying", at_once=True)
        env = verification_environment(os.environ, identity=workspace.env, pass_env=self.pass_env)
        complete.verification = await verify.run_all(
            assign.verify, cwd=workspace.repo, env=env, timeout=assign.timeout_s
        )
        await stop_everything_else()
        complete.status = "completed"
        return complete

    @staticmethod
    async def _conflicts_left(
        workspace: Workspace, merged: dict[str, str | None]
    ) -> tuple[str, list[str]] | None:
        """Never commit a conflict: paths still unmerged as the merge left them, or files holding
        conflict markers the base branch lacks, fail the job (the reason and the files)."""
        untouched = await conflicts.unmerged_untouched(workspace, merged)
        if untouched:
            return conflicts.refusal(untouched, unmerged=True), untouched
        assert workspace.base_sha is not None
        marked = await conflicts.staged_markers(workspace, workspace.base_sha)
        if marked:
            return conflicts.refusal(marked), marked
        return None

    async def _push(self, job: RunningJob, workspace: Workspace) -> None:
        """Push the attempt's ref; while the server is away (a restart), try again for a while."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PUSH_RETRY_FOR
        delay = 0.25
        while True:
            try:
                await workspace.push(job.assign.attempt_ref, token=job.assign.token)
                return
            except WorkspaceError as exc:
                if not exc.unreachable or job.cancel.is_set() or loop.time() + delay > deadline:
                    raise
                log.info("push_retry", job_id=job.assign.job_id, error=str(exc), delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _run_agent(self, job: RunningJob, workspace: Workspace) -> AgentOutcome:
        assign = job.assign
        options = dict(assign.agent_options)
        server_env = dict(assign.env)
        choice = job.credential
        if assign.agent == "claude":
            options.setdefault(
                "binary",
                os.environ.get("LAZYAF_CLAUDE_BIN") or shutil.which("claude") or "claude",
            )
            options.setdefault("config_dir", workspace.root / "claude-config")
            if choice is not None:
                options.setdefault("credential_source", choice.source)
        elif assign.credential is not None and assign.credential.kind in credentials.SERVER_SOURCES:
            server_env.update(assign.credential.env)  # other agents: the server's key, as before
        adapter = make_adapter(assign.agent, **options)
        # An allowlist: the runner's own credentials (LAZYAF_*) never reach the agent.
        env = agent_environment(
            os.environ,
            credentials=adapter.credentials,
            server_env=server_env,
            identity=workspace.env,
            pass_env=self.pass_env,
        )
        if choice is not None:
            env = credentials.agent_environment(env, choice)  # one model credential, the chosen one
        config_dir = options.get("config_dir")
        if assign.resume_session and assign.session_url and isinstance(config_dir, Path):
            await self._fetch_session(assign, workspace, config_dir)
        return await self._run(job, workspace, adapter, env, config_dir)

    async def _sync_login(
        self, job: RunningJob, staged: credentials.StagedLogin, *, final: bool = False
    ) -> None:
        """Keep a run's login copy and its user's file in step (credentials.StagedLogin); at the
        end, remove the copy."""
        try:
            done = await asyncio.to_thread(staged.remove if final else staged.sync)
        except OSError as exc:
            log.warning("claude_login_sync_failed", job_id=job.assign.job_id, error=exc.strerror or str(exc))
            if final:
                staged.copy.unlink(missing_ok=True)
            return
        if done:
            log.info("claude_login_synced", job_id=job.assign.job_id, change=done)

    async def _keep_login_in_step(self, job: RunningJob, staged: credentials.StagedLogin) -> None:
        while True:
            await asyncio.sleep(credentials.SYNC_INTERVAL)
            await self._sync_login(job, staged)

    async def _run(
        self, job: RunningJob, workspace: Workspace, adapter: Any, env: dict[str, str], config_dir: Any
    ) -> AgentOutcome:
        """Run the agent (with the login it uses copied in for the run), then keep its session."""
        assign = job.assign
        redactor = job.redactor
        choice = job.credential
        staged = None
        if choice is not None and choice.login is not None and isinstance(config_dir, Path):
            staged = await asyncio.to_thread(credentials.StagedLogin.stage, config_dir, choice.login)

        async def on_event(event: AgentEvent) -> None:  # run_agent redacted it with `redactor`
            seq = job.next_seq
            job.next_seq += 1
            await self._emit(
                job,
                protocol.Event(
                    job_id=assign.job_id,
                    attempt=assign.attempt,
                    seq=seq,
                    event=event.model_dump(mode="json", exclude_none=True),
                ),
            )

        keeper = asyncio.create_task(self._keep_login_in_step(job, staged)) if staged is not None else None
        try:
            outcome = await run_agent(
                adapter,
                assign.prompt,
                workdir=workspace.repo,
                env=env,
                timeout=assign.timeout_s,
                on_event=on_event,
                cancel=job.cancel,
                resume_session=assign.resume_session,
                redactor=redactor,
            )
        finally:
            if keeper is not None:
                keeper.cancel()
            if staged is not None:
                await self._sync_login(job, staged, final=True)  # the copy goes as the agent ends
        if outcome.session_id and assign.session_upload_url and isinstance(config_dir, Path):
            await self._store_session(assign, config_dir, outcome.session_id, redactor)
        return outcome

    @staticmethod
    def _headers(assign: protocol.Assign) -> dict[str, str]:
        """The session files are the attempt's: its own token moves them."""
        return {"Authorization": f"Bearer {assign.token}"}

    async def _fetch_session(self, assign: protocol.Assign, workspace: Workspace, config_dir: Path) -> None:
        """Put the earlier session's file where Claude Code looks for it (config dir, cwd slug)."""
        assert assign.session_url is not None and assign.resume_session is not None
        slug = re.sub(r"[^A-Za-z0-9]", "-", str(workspace.repo))
        target = config_dir / "projects" / slug / f"{assign.resume_session}.jsonl"
        try:
            async with httpx.AsyncClient(timeout=60, headers=self._headers(assign)) as client:
                response = await client.get(assign.session_url)
        except httpx.HTTPError as exc:
            log.warning("session_fetch_failed", error=str(exc))
            return
        if response.status_code == 200:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)

    async def _store_session(
        self, assign: protocol.Assign, config_dir: Path, session_id: str, redactor: Redactor
    ) -> None:
        """Upload this run's session file so a later job (maybe on another runner) can resume it.

        It holds the whole conversation, tool output included, and is stored on the server:
        secrets are redacted from it like from events (a resumed agent sees ``[redacted]``)."""
        assert assign.session_upload_url is not None
        found = next(iter((config_dir / "projects").glob(f"*/{session_id}.jsonl")), None)
        if found is None:
            log.warning("session_file_missing", session_id=session_id, config_dir=str(config_dir))
            return
        try:
            async with httpx.AsyncClient(timeout=120, headers=self._headers(assign)) as client:
                # params= would replace the URL's own query (the attempt); merge instead.
                url = httpx.URL(assign.session_upload_url).copy_merge_params({"session_id": session_id})
                text = await asyncio.to_thread(found.read_text, "utf-8", "replace")
                response = await client.put(url, content=redactor.text(text).encode())
            if response.status_code >= 300:
                log.warning("session_upload_refused", status=response.status_code, body=response.text[:300])
        except httpx.HTTPError as exc:
            log.warning("session_upload_failed", error=str(exc))


def commit_message(assign: protocol.Assign) -> str:
    """The message of the commit the harness makes of what the agent left: the card's title, then
    the trailers the server asked for (``LazyAF-Card``, ``LazyAF-Run``, ``LazyAF-Step``), which
    ``git log --format=%(trailers)`` reads back. Values are one line each: a newline cannot forge
    another trailer."""
    title = " ".join(assign.card_title.split()) or "LazyAF"
    lines = [title, "", f"LazyAF card {assign.card_id}, job {assign.job_id}."]
    trailers = [
        f"{key}: {' '.join(str(value).split())}"
        for key, value in assign.trailers.items()
        if key.replace("-", "").isalnum()
    ]
    if trailers:
        lines += ["", *trailers]
    return "\n".join(lines)
