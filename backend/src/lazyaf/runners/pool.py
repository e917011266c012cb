"""The runner pool: local runner processes and Docker runner containers that this backend starts,
kept at the count the user asked for.

Each pool runner gets a Runner row first (``pooled``); its process or container is told the row's
id and says hello with it, so the row, the process and the connection are one runner. It gets its
runner secret (derived from ``<data dir>/runner-secret``, auth.py) in ``LAZYAF_RUNNER_SECRET``, never
on its command line, and no user token: a pool runner has a runner's rights, not the user's.

The count per kind (``PoolTarget``) is what the user asked for with ``scale``; the rows are its
slots. A runner whose process or container ends without being asked to is started again, same row
and name, after a backoff (``runner_restart_delay``, doubled per exit within
``runner_crash_window``, at most ``RESTART_CAP``, with jitter); its row keeps the restart count,
how the last one ended and its last log lines. After ``runner_crash_limit`` exits within the
window the pool stops restarting it and marks it failed; scaling again (with any count that keeps
it) retries it. Scaling down asks idle runners to shut down first; busy ones go last, and each
row removed is announced (``runner_deleted``).

How exits are noticed: a local runner's process through a pidfd on the event loop (at once; the
reaper's sweep checks pids where there is no pidfd); a Docker runner's container when its socket
closes, and on every reaper sweep (``check``). A restarted server picks its runners up again
(``restore``): live processes are watched, dead ones restarted, missing slots started.

Local runners dial the server on loopback and keep their workspaces under ``<data dir>/work``.
Docker runners live on this server's own bridge network (``lazyaf-<instance>``, created on the
first scale-up, removed when the last container goes) and dial the server at its gateway, where
the pool makes the server listen too (``gateway.py``); off loopback, their runner secret is what
admits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from lazyaf.auth import RunnerCredentials
from lazyaf.db.engine import session_scope
from lazyaf.errors import Conflict, LazyAFError
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import RunnerDeleted
from lazyaf.orchestration import announce
from lazyaf.orchestration import runners as runner_moves
from lazyaf.redaction import server_redactor
from lazyaf.runners.connection import RunnerHub
from lazyaf.runners.gateway import GatewayListener, serves_every_address
from lazyaf.runners.models import PoolTarget, Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings, checkout_root

log = structlog.get_logger(__name__)
RUNNER_SECRET_ENV = "LAZYAF_RUNNER_SECRET"
# The server's own credentials are not a runner's to hold (a runner secret is all it needs).
WITHHELD_ENV = ("LAZYAF_TOKEN", "LAZYAF_RUNNER_TOKEN", RUNNER_SECRET_ENV)
RESTART_CAP = 60.0
"""The longest wait, in seconds, before a runner that keeps exiting is started again."""
LOG_TAIL_LINES = 20
LOG_TAIL_CHARS = 2000
POOL_KINDS = (RunnerKind.LOCAL, RunnerKind.DOCKER)


def claude_binary(settings: Settings) -> str | None:
    """The Claude Code binary local runners use: the setting, the checkout's pinned install, or PATH."""
    if settings.claude_binary:
        return settings.claude_binary
    root = checkout_root()
    if root is not None:
        pinned = root / "runner" / "claude" / "node_modules" / ".bin" / "claude"
        if pinned.exists():
            return str(pinned)
    return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def runs_runner(pid: int | None, runner_id: uuid.UUID) -> bool:
    """Whether ``pid`` is alive and is that runner's process (after a reboot the number may
    belong to anything: never watch or signal a stranger)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to ask: trust the number
    return str(runner_id).encode() in cmdline


def describe_exit(code: int | None) -> str:
    """A process's exit status in words: ``exited with code 3``, ``killed by SIGKILL``."""
    if code is None:
        return "its process ended (exit status unknown: an earlier server process started it)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def describe_container_exit(exit_code: int | None, *, oom_killed: bool, error: str, removed: bool) -> str:
    """How a runner container ended, in words."""
    if removed:
        return "its container was removed"
    if oom_killed:
        return f"killed: out of memory (exit code {exit_code})"
    if exit_code is None:
        return f"its container stopped ({error})" if error else "its container stopped"
    text = f"exited with code {exit_code}"
    if exit_code > 128:
        with contextlib.suppress(ValueError):
            text += f" ({signal.Signals(exit_code - 128).name})"
    return f"{text}: {error}" if error else text


def last_lines(text: str) -> str:
    """The last ``LOG_TAIL_LINES`` lines of ``text``, at most ``LOG_TAIL_CHARS`` characters."""
    lines = text.rstrip("\n").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(lines)[-LOG_TAIL_CHARS:]


def read_tail(path: Path) -> str:
    """The end of a log file (its last few KiB); '' when there is none."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 16384))
            return last_lines(file.read().decode("utf-8", errors="replace"))
    except OSError:
        return ""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Exit:
    """How a pool runner's process or container ended."""

    reason: str
    log_tail: str = ""


class HostNames(Protocol):
    """The names the server answers to (``app.state.allowed_hosts``): ``name`` or ``name:port``."""

    def add(self, entry: str, /) -> None: ...

    def discard(self, entry: str, /) -> None: ...


class RunnerPool:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        hub: RunnerHub,
        credentials: RunnerCredentials,
        allowed_hosts: HostNames | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.hub = hub
        self.credentials = credentials
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        # The host names the server answers to (app.state.allowed_hosts): the gateway joins them.
        self.allowed_hosts: HostNames = allowed_hosts if allowed_hosts is not None else set()
        # The app to serve on the gateway; create_app sets it once the app exists.
        self.app: ASGIApp | None = None
        self.gateway: GatewayListener | None = None
        # The URL Docker runners dial (http://<gateway>:<port>), once the network exists.
        self.docker_server_url: str | None = None
        self._network_lock = asyncio.Lock()
        self._restoring: asyncio.Task[None] | None = None
        # Scaling, exits and restarts change the slots one at a time.
        self._lock = asyncio.Lock()
        self._watches: dict[uuid.UUID, int] = {}  # runner id -> pidfd of its process
        self._timers: dict[uuid.UUID, asyncio.TimerHandle] = {}  # runner id -> its pending restart
        self._exits: dict[uuid.UUID, list[float]] = {}  # runner id -> monotonic times of recent exits
        self._stopping: set[uuid.UUID] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        hub.on_disconnect.append(self.runner_disconnected)

    @property
    def instance_labels(self) -> dict[str, str]:
        """Marks this backend's containers, so it never reaps another backend's runners."""
        return {
            "lazyaf.instance": hashlib.sha256(str(self.settings.data_dir.resolve()).encode()).hexdigest()[:16]
        }

    @property
    def network_name(self) -> str:
        """This backend's Docker network (one per data dir, like the instance label)."""
        return f"lazyaf-{self.instance_labels['lazyaf.instance']}"

    @property
    def work_dir(self) -> Path:
        """Where local pool runners keep their workspaces (the runner makes it 0700)."""
        return self.settings.data_dir / "work"

    @property
    def server_url(self) -> str:
        return (
            f"http://127.0.0.1:{self.settings.port}"
            if self.settings.host in ("0.0.0.0", "::")
            else (f"http://{self.settings.host}:{self.settings.port}")
        )

    # -- the count -------------------------------------------------------------------------------

    async def slots(self, session: AsyncSession, kind: RunnerKind) -> list[Runner]:
        """The pool's runners of ``kind``, oldest first (running, restarting or failed)."""
        query = select(Runner).where(Runner.kind == kind, Runner.pooled.is_(True)).order_by(Runner.created_at)
        return list((await session.scalars(query)).all())

    async def counts(self) -> dict[str, int]:
        """How many runners of each kind the user asked the pool to keep."""
        async with self.sessionmaker() as session:
            rows = (await session.scalars(select(PoolTarget))).all()
        counts = {kind.value: 0 for kind in POOL_KINDS}
        counts.update({str(row.kind): row.count for row in rows if row.kind in POOL_KINDS})
        return counts

    async def scale(self, kind: RunnerKind, count: int) -> None:
        """Keep ``count`` runners of ``kind``: start or stop runners until there are that many, and
        give failed ones a fresh start."""
        if kind == RunnerKind.LOCAL and count > 0 and importlib.util.find_spec("lazyaf_runner") is None:
            # The backend depends on the wire format only (lazyaf_protocol), not on the runner.
            raise Conflict(
                "Local runners need the lazyaf-runner package beside the server: run "
                "scripts/bootstrap.sh, or pip install ./runner into the server's environment."
            )
        if kind == RunnerKind.DOCKER and count > 0:
            from lazyaf.runners import docker

            if not await anyio.to_thread.run_sync(docker.engine_available):
                raise Conflict(
                    "No Docker engine answers on this machine; start one or scale local runners instead."
                )
        await self.check()  # exits that happened meanwhile are recorded first
        async with self._lock:
            async with session_scope(self.sessionmaker) as session:
                await self._set_target(session, kind, count)
                slots = await self.slots(session, kind)
            had_any = bool(slots)
            extra = len(slots) - count
            if extra > 0:
                order = sorted(slots, key=self._removal_order)
                for runner in order[:extra]:
                    await self._stop(runner)
                slots = [r for r in slots if r not in order[:extra]]
            for runner in slots:
                if runner.failed_at is not None:
                    self._exits.pop(runner.id, None)
                    await self._relaunch(runner.id, retry=True)
            try:
                for index in range(len(slots), count):
                    await self._start(kind, index + 1)
            except BaseException:
                # The count the pool keeps is what it has: the error says why the rest did not start.
                async with session_scope(self.sessionmaker) as session:
                    await self._set_target(session, kind, len(await self.slots(session, kind)))
                raise
        if kind == RunnerKind.DOCKER and count == 0 and (had_any or self.docker_server_url):
            await self.close_docker_network()

    async def _set_target(self, session: AsyncSession, kind: RunnerKind, count: int) -> None:
        target = await session.get(PoolTarget, kind)
        if target is None:
            session.add(PoolTarget(kind=kind, count=count))
        else:
            target.count = count

    def _removal_order(self, runner: Runner) -> tuple[int, float]:
        """Failed runners go first, then ones waiting to restart, then idle, then busy; newest first."""
        if runner.failed_at is not None:
            rank = 0
        elif runner.pid is None and runner.container_id is None:
            rank = 1
        elif runner.status != RunnerStatus.BUSY:
            rank = 2
        else:
            rank = 3
        return rank, -runner.created_at.timestamp()

    # -- starting and stopping -------------------------------------------------------------------

    async def _start(self, kind: RunnerKind, number: int) -> None:
        """A new slot: its row and its first process or container (nothing is left of either when
        the start fails; the error goes to the caller)."""
        async with session_scope(self.sessionmaker) as session:
            existing = {r.name for r in (await session.scalars(select(Runner))).all()}
            name = next(f"{kind}-{n}" for n in range(number, number + 1000) if f"{kind}-{n}" not in existing)
            runner = Runner(name=name, kind=kind, status=RunnerStatus.OFFLINE, pooled=True)
            session.add(runner)
            await session.flush()
            await self._launch(runner)
            announce.runner_changed(session, runner)
        log.info("runner_started", name=name, kind=kind)

    async def _launch(self, runner: Runner) -> None:
        """Start the runner's process or container and note it on the row."""
        if runner.kind == RunnerKind.LOCAL:
            try:
                runner.pid = self._spawn_local(str(runner.id), runner.name)
            except OSError as exc:
                raise LazyAFError(
                    f"Could not start local runner {runner.name}: {exc}. Check that the data directory "
                    f"{self.settings.data_dir} is writable (its logs/ folder holds the runner's log)."
                ) from exc
            self._watch(runner.id, runner.pid)
        else:
            server = self.docker_server_url or await self.open_docker_network()
            runner.container_id = await anyio.to_thread.run_sync(
                self._start_container, str(runner.id), runner.name, server
            )
        runner.restart_at = None
        runner.failed_at = None

    async def _relaunch(self, runner_id: uuid.UUID, *, retry: bool = False) -> None:
        """Start a slot's runner again (after its backoff, or as a retry); a start that fails counts
        as one more exit. The caller holds the lock."""
        self._cancel_timer(runner_id)
        if self._closing:
            return
        async with session_scope(self.sessionmaker) as session:
            runner = await session.get(Runner, runner_id)
            if (
                runner is None
                or not runner.pooled
                or runner.pid is not None
                or runner.container_id is not None
            ):
                return
            if runner.failed_at is not None and not retry:
                return
            runner.restarts += 1
            try:
                await self._launch(runner)
            except LazyAFError as exc:
                log.warning("runner_restart_failed", name=runner.name, error=str(exc))
                await self._record_exit(session, runner, Exit(f"could not start: {exc}"[:200]))
                return
            announce.runner_changed(session, runner)
        log.info("runner_restarted", name=runner.name, kind=runner.kind, restarts=runner.restarts)

    def _runner_args(self, runner_id: str, name: str, kind: RunnerKind, server: str) -> list[str]:
        # Pool runners outlive a backend restart, but not a backend that never comes back.
        return [
            "--server",
            server,
            "--runner-id",
            runner_id,
            "--name",
            name,
            "--kind",
            str(kind),
            "--max-disconnected",
            "600",
            "--work-dir",
            str(self.work_dir) if kind == RunnerKind.LOCAL else "/workspace",
        ]

    def log_path(self, name: str) -> Path:
        """A local pool runner's log file (each of its processes appends to it)."""
        return self.settings.logs_dir / f"runner-{name}.log"

    def _spawn_local(self, runner_id: str, name: str) -> int:
        env = {key: value for key, value in os.environ.items() if key not in WITHHELD_ENV}
        binary = claude_binary(self.settings)
        if binary:
            env["LAZYAF_CLAUDE_BIN"] = binary
        env[RUNNER_SECRET_ENV] = self.credentials.runner_secret(uuid.UUID(runner_id))
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path(name), "ab")  # noqa: SIM115 (owned by the child)
        args = [
            sys.executable,
            "-m",
            "lazyaf_runner",
            *self._runner_args(runner_id, name, RunnerKind.LOCAL, self.server_url),
        ]
        # A session of its own: the runner outlives a backend restart and reconnects to it.
        process = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        self._children[process.pid] = process
        return process.pid

    def _start_container(self, runner_id: str, name: str, server: str) -> str:
        from lazyaf.runners import docker

        image = docker.build_runner_image()
        return docker.start_runner_container(
            image=image,
            name=f"lazyaf-{name}-{runner_id[:8]}",
            command=self._runner_args(runner_id, name, RunnerKind.DOCKER, server),
            env={RUNNER_SECRET_ENV: self.credentials.runner_secret(uuid.UUID(runner_id))},
            labels={**self.instance_labels, "lazyaf.runner_id": runner_id, "lazyaf.runner_name": name},
            network=self.network_name,
        )

    async def _stop(self, runner: Runner) -> None:
        """Stop a slot's runner for good and forget the slot (scale-down). The caller holds the lock."""
        self._stopping.add(runner.id)
        try:
            self._cancel_timer(runner.id)
            self._unwatch(runner.id)
            self._exits.pop(runner.id, None)
            await self.hub.shutdown_runner(runner.id)
            if runner.pid is not None and runs_runner(runner.pid, runner.id):
                await anyio.to_thread.run_sync(self._terminate, runner.pid)
            self._children.pop(runner.pid or 0, None)
            if runner.container_id is not None:
                from lazyaf.runners import docker

                await anyio.to_thread.run_sync(docker.stop_and_remove, runner.container_id)
            async with session_scope(self.sessionmaker) as session:
                row = await session.get(Runner, runner.id)
                if row is not None:
                    await session.delete(row)
                    EventBus.record(session, RunnerDeleted(runner_id=runner.id))
        finally:
            self._stopping.discard(runner.id)
        log.info("runner_stopped", name=runner.name)

    def _terminate(self, pid: int, grace: float = 5.0) -> None:
        child = self._children.pop(pid, None)
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if child is not None:
            try:
                child.wait(grace)
                return
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if child is not None:
            child.wait()

    def terminate_children(self) -> None:
        """Stop every local runner process this pool started (tests; a backend that shuts down for good)."""
        self._closing = True
        for pid in list(self._children):
            self._terminate(pid, grace=2.0)

    # -- exits and restarts ----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # A context of its own: not the request's (its request id) that happened to set the watch.
        task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pool_task_failed", error=repr(task.exception()))

    def _watch(self, runner_id: uuid.UUID, pid: int) -> None:
        """Learn at once when the runner's process ends: its pidfd becomes readable then."""
        self._unwatch(runner_id)
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._spawn(self._local_exited(runner_id, pid))
            return
        except (OSError, AttributeError):
            return  # no pidfds here: check() looks at the pid on every sweep
        asyncio.get_running_loop().add_reader(fd, self._pidfd_ready, runner_id, pid)
        self._watches[runner_id] = fd

    def _pidfd_ready(self, runner_id: uuid.UUID, pid: int) -> None:
        self._unwatch(runner_id)
        self._spawn(self._local_exited(runner_id, pid))

    def _unwatch(self, runner_id: uuid.UUID) -> None:
        fd = self._watches.pop(runner_id, None)
        if fd is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)

    def _cancel_timer(self, runner_id: uuid.UUID) -> None:
        timer = self._timers.pop(runner_id, None)
        if timer is not None:
            timer.cancel()

    async def _local_exited(self, runner_id: uuid.UUID, pid: int) -> None:
        child = self._children.pop(pid, None)
        # The process has ended: reaping it (our child) does not wait.
        code = await anyio.to_thread.run_sync(child.wait) if child is not None else None
        name = await self._name_of(runner_id)
        tail = await anyio.to_thread.run_sync(read_tail, self.log_path(name)) if name else ""
        await self._exited(runner_id, Exit(describe_exit(code), tail), pid=pid)

    async def _name_of(self, runner_id: uuid.UUID) -> str | None:
        async with self.sessionmaker() as session:
            name: str | None = await session.scalar(select(Runner.name).where(Runner.id == runner_id))
            return name

    async def _exited(
        self, runner_id: uuid.UUID, exit: Exit, *, pid: int | None = None, container_id: str | None = None
    ) -> None:
        """A pool runner's process (``pid``) or container ended without being asked to: note how,
        then restart it after its backoff, or mark it failed when it keeps exiting."""
        async with self._lock:
            if self._closing or runner_id in self._stopping:
                return
            async with session_scope(self.sessionmaker) as session:
                runner = await session.get(Runner, runner_id)
                if runner is None or not runner.pooled:
                    return
                if (pid is not None and runner.pid != pid) or (
                    container_id is not None and runner.container_id != container_id
                ):
                    return  # an earlier process or container of this slot
                await self._record_exit(session, runner, exit)

    async def _record_exit(self, session: AsyncSession, runner: Runner, exit: Exit) -> None:
        now = utcnow()
        runner.pid = None
        runner.container_id = None
        runner.last_exit = exit.reason[:200]
        runner.last_exit_at = now
        runner.log_tail = server_redactor(self.settings).text(exit.log_tail) or None
        recent = self._recent_exits(runner.id)
        if len(recent) >= self.settings.runner_crash_limit:
            runner.failed_at, runner.restart_at = now, None
            log.warning("runner_failed", name=runner.name, exits=len(recent), last_exit=runner.last_exit)
        else:
            delay = self.restart_delay(len(recent))
            runner.restart_at = now + timedelta(seconds=delay)
            self._schedule_restart(runner.id, delay)
            log.warning(
                "runner_exited", name=runner.name, reason=runner.last_exit, restart_in=round(delay, 2)
            )
        # One event either way: runner_offline announces the change when the socket is still open.
        announced = runner.status != RunnerStatus.OFFLINE
        await runner_moves.offline(session=session, runner=runner)
        if not announced:
            await session.flush()
            announce.runner_changed(session, runner)

    def _recent_exits(self, runner_id: uuid.UUID) -> list[float]:
        now = time.monotonic()
        window = self.settings.runner_crash_window
        recent = [t for t in self._exits.get(runner_id, []) if now - t < window] + [now]
        self._exits[runner_id] = recent
        return recent

    def restart_delay(self, exits: int) -> float:
        """Seconds to wait before the next start after ``exits`` exits within the window: doubled
        each time, capped, and jittered (between half and all of it) so runners that died
        together do not all come back in the same instant."""
        delay = min(RESTART_CAP, self.settings.runner_restart_delay * 2.0 ** max(0, exits - 1))
        return delay * (0.5 + random.random() / 2)

    def _schedule_restart(self, runner_id: uuid.UUID, delay: float) -> None:
        self._cancel_timer(runner_id)

        def fire() -> None:
            self._timers.pop(runner_id, None)
            self._spawn(self._restart(runner_id))

        self._timers[runner_id] = asyncio.get_running_loop().call_later(delay, fire)

    async def _restart(self, runner_id: uuid.UUID) -> None:
        async with self._lock:
            await self._relaunch(runner_id)

    def runner_disconnected(self, runner_id: uuid.UUID) -> None:
        """A runner's socket closed (the hub calls this): a pool container that ended is noticed
        now rather than on the next sweep (a local process has its pidfd)."""
        if self._closing or runner_id in self._watches:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, lambda: None if self._closing else self._spawn(self.check()))

    async def check(self) -> None:
        """Notice pool runners that ended: local processes without a pidfd watch (by pid), and
        Docker containers (one engine call, only while there are any); then remove dead runner
        containers of this backend that belong to no slot."""
        if self._closing:
            return
        async with self.sessionmaker() as session:
            query = select(Runner).where(Runner.pooled.is_(True))
            rows = list((await session.scalars(query)).all())
        for runner in rows:
            if (
                runner.kind == RunnerKind.LOCAL
                and runner.pid is not None
                and runner.id not in self._watches
                and not runs_runner(runner.pid, runner.id)
            ):
                await self._local_exited(runner.id, runner.pid)
        containers = {r.container_id: r.id for r in rows if r.container_id is not None}
        if not containers:
            return
        from lazyaf.runners import docker

        labels = self.instance_labels
        try:
            ended = await anyio.to_thread.run_sync(lambda: docker.collect_exited(set(containers), labels))
            await anyio.to_thread.run_sync(lambda: docker.reap_dead(labels=labels))
        except LazyAFError as exc:
            log.info("pool_docker_check_failed", error=str(exc))
            return
        for container_id, how in ended.items():
            reason = describe_container_exit(
                how.exit_code, oom_killed=how.oom_killed, error=how.error, removed=how.removed
            )
            exit = Exit(reason, last_lines(how.log_tail))
            await self._exited(containers[container_id], exit, container_id=container_id)

    # -- start-up and shutdown -------------------------------------------------------------------

    async def restore(self) -> None:
        """At start-up: watch the local runners that outlived a restart and restart the ones that
        did not, start slots the pool is short of, and (in the background: the engine may be slow,
        and runners retry) listen on the gateway of the Docker network if it is still there."""
        try:
            await self._resume()
        except Exception:  # the server starts all the same; the reaper's sweeps pick runners up
            log.exception("pool_resume_failed")
        async with session_scope(self.sessionmaker) as session:
            known = await session.scalar(select(Runner.id).where(Runner.kind == RunnerKind.DOCKER).limit(1))
            docker_target = await session.get(PoolTarget, RunnerKind.DOCKER)
        if known is None and (docker_target is None or docker_target.count == 0):
            return

        async def reopen() -> None:
            from lazyaf.runners import docker

            try:
                labels = self.instance_labels
                networks = await anyio.to_thread.run_sync(lambda: docker.list_runner_networks(labels))
                if self.network_name in networks:
                    await self.open_docker_network()
                if docker_target is not None and docker_target.count > 0:
                    await self._fill(RunnerKind.DOCKER)
            except Exception:
                log.exception("docker_network_restore_failed")

        self._restoring = asyncio.get_running_loop().create_task(reopen(), name="docker-network-restore")

    async def _resume(self) -> None:
        async with self._lock, session_scope(self.sessionmaker) as session:
            for runner in await self.slots(session, RunnerKind.LOCAL):
                if runner.failed_at is not None:
                    continue
                if runner.pid is None:  # it was waiting to be restarted: its wait goes on
                    due = runner.restart_at or utcnow()
                    self._schedule_restart(runner.id, max(0.0, (due - utcnow()).total_seconds()))
                elif runs_runner(runner.pid, runner.id):
                    self._watch(runner.id, runner.pid)
                else:
                    tail = await anyio.to_thread.run_sync(read_tail, self.log_path(runner.name))
                    gone = Exit("its process was gone when the server started", tail)
                    await self._record_exit(session, runner, gone)
        await self._fill(RunnerKind.LOCAL)

    async def _fill(self, kind: RunnerKind) -> None:
        """Start the slots the pool is short of (the count was kept while rows went missing)."""
        async with self._lock:
            async with self.sessionmaker() as session:
                target = await session.get(PoolTarget, kind)
                have = len(await self.slots(session, kind))
            for index in range(have, target.count if target is not None else 0):
                try:
                    await self._start(kind, index + 1)
                except LazyAFError as exc:
                    log.warning("pool_fill_failed", kind=kind, error=str(exc))
                    return

    async def close(self) -> None:
        """At shutdown: stop restarting and watching (the runners themselves outlive a restart),
        and stop the gateway listener. A network with runner containers on it stays (they dial the
        gateway again); an empty one this process opened is removed, so servers that come and go
        (tests, short sessions) leave no networks behind: Docker's address pools hold only a few
        dozen."""
        self._closing = True
        for runner_id in list(self._timers):
            self._cancel_timer(runner_id)
        for runner_id in list(self._watches):
            self._unwatch(runner_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._restoring is not None:
            self._restoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restoring
        if self.docker_server_url is not None:
            with contextlib.suppress(LazyAFError):  # the engine went away first: nothing to remove
                await self.close_docker_network()
        if self.gateway is not None:
            await self.gateway.stop()

    # -- the Docker network ----------------------------------------------------------------------

    async def open_docker_network(self) -> str:
        """Make sure this backend's runner network exists and the server listens on its
        gateway; the URL Docker runners dial. Idempotent."""
        from lazyaf.runners import docker

        async with self._network_lock:
            network = await anyio.to_thread.run_sync(
                lambda: docker.ensure_network(self.network_name, self.instance_labels)
            )
            port = self.settings.port
            if not serves_every_address(self.settings.host):
                if self.app is None:
                    raise Conflict("The server is not running; Docker runners need it to listen.")
                self.gateway = self.gateway or GatewayListener(self.app)
                try:
                    await self.gateway.start(network.gateway, port)
                except OSError as exc:
                    raise Conflict(
                        f"Docker runners cannot reach this server: listening on {network.gateway}:{port} "
                        f"(the gateway of the network {network.name}) failed: {exc.strerror or exc}. "
                        "Free that port on that address, or serve on another port."
                    ) from exc
            self.allowed_hosts.add(f"{network.gateway}:{port}")
            self.docker_server_url = f"http://{network.gateway}:{port}"
            return self.docker_server_url

    async def close_docker_network(self) -> None:
        """Remove the network once no container is on it (a pool's or one run by hand from
        the docker-command), then stop listening on its gateway."""
        from lazyaf.runners import docker

        async with self._network_lock:
            labels = self.instance_labels
            left = await anyio.to_thread.run_sync(lambda: docker.list_runner_containers(labels=labels))
            if left or not await anyio.to_thread.run_sync(docker.remove_network, self.network_name):
                return
            if self.docker_server_url is not None:
                self.allowed_hosts.discard(self.docker_server_url.removeprefix("http://"))
            if self.gateway is not None:
                await self.gateway.stop()
            self.docker_server_url = None
