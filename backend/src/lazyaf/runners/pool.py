"""The runner pool: local runner processes and Docker runner containers that this backend starts.

Each managed runner gets a Runner row first; its process or container is told the row's id and
says hello with it, so the row, the process and the connection are one runner. It gets its runner
secret (derived from ``<data dir>/runner-secret``, auth.py) in ``LAZYAF_RUNNER_SECRET``, never on
its command line, and no user token: a pool runner has a runner's rights, not the user's. Scaling
down asks idle runners to shut down first; busy ones go last.

Local runners dial the server on loopback and keep their workspaces under ``<data dir>/work``.
Docker runners live on this server's own bridge network (``lazyaf-<instance>``, created on the
first scale-up, removed when the last container goes) and dial the server at its gateway, where
the pool makes the server listen too (``gateway.py``); off loopback, their runner secret is what
admits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from lazyaf.auth import RunnerCredentials
from lazyaf.db.engine import session_scope
from lazyaf.errors import Conflict, LazyAFError
from lazyaf.orchestration import announce
from lazyaf.orchestration import runners as runner_moves
from lazyaf.runners.connection import RunnerHub
from lazyaf.runners.gateway import GatewayListener, serves_every_address
from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus
from lazyaf.settings import Settings, checkout_root

log = structlog.get_logger(__name__)
RUNNER_SECRET_ENV = "LAZYAF_RUNNER_SECRET"
# The server's own credentials are not a runner's to hold (a runner secret is all it needs).
WITHHELD_ENV = ("LAZYAF_TOKEN", "LAZYAF_RUNNER_TOKEN", RUNNER_SECRET_ENV)


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

    @property
    def instance_labels(self) -> dict[str, str]:
        """Marks this backend's containers, so it never reaps another backend's runners."""
        return {"lazyaf.instance": hashlib.sha256(str(self.settings.data_dir.resolve()).encode()).hexdigest()[:16]}

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

    async def managed(self, session: AsyncSession, kind: RunnerKind) -> list[Runner]:
        query = select(Runner).where(Runner.kind == kind).order_by(Runner.created_at)
        rows = list((await session.scalars(query)).all())
        if kind == RunnerKind.LOCAL:
            return [r for r in rows if r.pid is not None]
        return [r for r in rows if r.container_id is not None]

    async def scale(self, kind: RunnerKind, count: int) -> None:
        """Start or stop managed runners of ``kind`` until ``count`` are running."""
        await self.reap()
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
        async with session_scope(self.sessionmaker) as session:
            current = await self.managed(session, kind)
        if count > len(current):
            if kind == RunnerKind.DOCKER:
                await self.open_docker_network()
            for index in range(len(current), count):
                await self._start(kind, index + 1)
        elif count < len(current):
            # Idle runners first, busy ones last, newest first within each.
            order = sorted(current, key=lambda r: (r.status == RunnerStatus.BUSY, -r.created_at.timestamp()))
            for runner in order[: len(current) - count]:
                await self._stop(runner)
        if kind == RunnerKind.DOCKER and count == 0 and (current or self.docker_server_url):
            await self.close_docker_network()

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

    async def restore(self) -> None:
        """At start-up: Docker runners that outlived a restart (the pool's, or run by hand on its
        network) dial the gateway again; listen there if the network is still there (in the
        background: the engine may be slow, and runners retry)."""
        async with session_scope(self.sessionmaker) as session:
            known = await session.scalar(select(Runner.id).where(Runner.kind == RunnerKind.DOCKER).limit(1))
        if known is None:
            return

        async def reopen() -> None:
            from lazyaf.runners import docker

            try:
                labels = self.instance_labels
                networks = await anyio.to_thread.run_sync(lambda: docker.list_runner_networks(labels))
                if self.network_name in networks:
                    await self.open_docker_network()
            except Exception:
                log.exception("docker_network_restore_failed")

        self._restoring = asyncio.get_running_loop().create_task(reopen(), name="docker-network-restore")

    async def close(self) -> None:
        """At shutdown: stop the gateway listener. A network with runner containers on it stays
        (they outlive a restart and dial the gateway again); an empty one this process opened is
        removed, so servers that come and go (tests, short sessions) leave no networks behind:
        Docker's address pools hold only a few dozen."""
        if self._restoring is not None:
            self._restoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restoring
        if self.docker_server_url is not None:
            with contextlib.suppress(LazyAFError):  # the engine went away first: nothing to remove
                await self.close_docker_network()
        if self.gateway is not None:
            await self.gateway.stop()

    async def _start(self, kind: RunnerKind, number: int) -> None:
        async with session_scope(self.sessionmaker) as session:
            existing = {r.name for r in (await session.scalars(select(Runner))).all()}
            name = next(f"{kind}-{n}" for n in range(number, number + 1000) if f"{kind}-{n}" not in existing)
            runner = Runner(name=name, kind=kind, status=RunnerStatus.OFFLINE)
            session.add(runner)
            await session.flush()
            if kind == RunnerKind.LOCAL:
                runner.pid = self._spawn_local(str(runner.id), name)
            else:
                server = self.docker_server_url or await self.open_docker_network()
                runner.container_id = await anyio.to_thread.run_sync(
                    self._start_container, str(runner.id), name, server
                )
            announce.runner_changed(session, runner)
        log.info("runner_started", name=name, kind=kind)

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

    def _spawn_local(self, runner_id: str, name: str) -> int:
        env = {key: value for key, value in os.environ.items() if key not in WITHHELD_ENV}
        binary = claude_binary(self.settings)
        if binary:
            env["LAZYAF_CLAUDE_BIN"] = binary
        env[RUNNER_SECRET_ENV] = self.credentials.runner_secret(uuid.UUID(runner_id))
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.settings.logs_dir / f"runner-{name}.log", "ab")  # noqa: SIM115 (owned by the child)
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
        await self.hub.shutdown_runner(runner.id)
        if runner.pid is not None:
            await anyio.to_thread.run_sync(self._terminate, runner.pid)
        if runner.container_id is not None:
            from lazyaf.runners import docker

            await anyio.to_thread.run_sync(docker.stop_and_remove, runner.container_id)
        async with session_scope(self.sessionmaker) as session:
            row = await session.get(Runner, runner.id)
            if row is not None:
                runner_moves.removed(session, row)
                await session.delete(row)
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
        for pid in list(self._children):
            self._terminate(pid, grace=2.0)

    async def reap(self) -> None:
        """Forget local runners whose process died and remove dead runner containers."""
        async with session_scope(self.sessionmaker) as session:
            for runner in await self.managed(session, RunnerKind.LOCAL):
                if not pid_alive(runner.pid):
                    self._children.pop(runner.pid or 0, None)
                    await runner_moves.offline(session=session, runner=runner)
                    runner.pid = None
                    await session.delete(runner)
            docker_rows = await self.managed(session, RunnerKind.DOCKER)
            if docker_rows:
                from lazyaf.runners import docker

                removed = set(await anyio.to_thread.run_sync(lambda: docker.reap_dead(labels=self.instance_labels)))
                for runner in docker_rows:
                    if runner.container_id in removed:
                        await runner_moves.offline(session=session, runner=runner)
                        await session.delete(runner)

    async def counts(self) -> dict[str, int]:
        async with self.sessionmaker() as session:
            return {
                kind.value: len(await self.managed(session, kind))
                for kind in (RunnerKind.LOCAL, RunnerKind.DOCKER)
            }
