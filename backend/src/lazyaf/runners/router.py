"""/api/runners: the pool, scaling it, adding a runner by hand, and the runners' WebSocket."""

from __future__ import annotations

import contextlib
import shlex
import uuid
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import APIRouter, Request, Response, WebSocket, status
from sqlalchemy import select

from lazyaf.api.deps import SessionDep, SettingsDep, public_base_url
from lazyaf.errors import LazyAFError, error_responses
from lazyaf.runners import service as runner_service
from lazyaf.runners.models import Runner, RunnerKind
from lazyaf.runners.schemas import DockerCommandRead, PoolRead, PoolScale, RegistrationRead, RunnerRead
from lazyaf.settings import is_loopback_host

router = APIRouter(prefix="/runners", tags=["runners"])


async def _pool_read(request: Request, session: SessionDep) -> PoolRead:
    from lazyaf.runners import docker

    runners = (await session.scalars(select(Runner).order_by(Runner.kind, Runner.name))).all()
    counts = await request.app.state.pool.counts()
    return PoolRead(
        runners=[RunnerRead.model_validate(r) for r in runners],
        local=counts["local"],
        docker=counts["docker"],
        docker_available=await anyio.to_thread.run_sync(docker.engine_available),
        waiting=await request.app.state.queue.snapshot(),
    )


@router.get("")
async def list_runners(request: Request, session: SessionDep) -> PoolRead:
    """Every known runner with its status and current job, and how many the pool manages per kind."""
    return await _pool_read(request, session)


@router.post("/scale", responses=error_responses(409, 422))
async def scale_runners(scale: PoolScale, request: Request, session: SessionDep) -> PoolRead:
    """Keep `count` runners of a kind: start or stop pool runners until there are that many, and
    start failed ones again."""
    await request.app.state.pool.scale(RunnerKind(scale.kind), scale.count)
    return await _pool_read(request, session)


@router.delete("/{runner_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409))
async def delete_runner(runner_id: uuid.UUID, request: Request, session: SessionDep) -> Response:
    """Remove a runner added by hand once it has stopped (pool runners: scale down instead)."""
    connected = runner_id in request.app.state.hub.connections
    await runner_service.delete(session=session, runner_id=runner_id, connected=connected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/registration-token")
async def get_registration_token(request: Request) -> RegistrationRead:
    """The token a runner added by hand presents to join (`lazyaf runner` asks for it on this machine)."""
    return RegistrationRead(registration_token=request.app.state.credentials.registration_token)


@router.get("/docker-command")
async def get_docker_command(request: Request, settings: SettingsDep) -> DockerCommandRead:
    """The `docker run` line that adds a runner by hand, and the registration token it needs."""
    # Never the host's network. A loopback server is reached from this machine only: join the
    # pool's runner network and dial the server at its gateway (both made now if need be).
    server, network = public_base_url(request, settings), ""
    if is_loopback_host(urlsplit(server).hostname or ""):
        pool = request.app.state.pool
        with contextlib.suppress(LazyAFError):  # no Docker here: the command is for elsewhere
            server, network = await pool.open_docker_network(), f"--network {pool.network_name} "
    token = request.app.state.credentials.registration_token
    # The token travels in the environment (the shell's assignment, then -e NAME): never in
    # docker's own argv, where every user of the machine could read it.
    command = (
        f"LAZYAF_RUNNER_TOKEN={shlex.quote(token)} docker run -d --restart unless-stopped {network}"
        "-e LAZYAF_RUNNER_TOKEN "
        f"lazyaf-runner:latest --server {server} --name <runner-name> --kind docker"
    )
    notes = (
        "Build the image first on that machine: `docker build -f runner/Dockerfile -t lazyaf-runner:latest .` "
        "from a LazyAF checkout (BASE_IMAGE may be any Debian image with python3 and git). "
        "Replace the <placeholders>. LAZYAF_RUNNER_TOKEN is this server's runner registration token: "
        "keep it secret, like a password (it lets a runner take jobs and their prompts). "
        "The runner gets its model credential from this server with each job (GET /api/agents says "
        "which), never in the container's environment; to use a key of that machine instead, export "
        "ANTHROPIC_API_KEY there and add `-e ANTHROPIC_API_KEY` (by name: the value stays out of argv)."
    )
    return DockerCommandRead(command=command, notes=notes, registration_token=token)


@router.websocket("/connect")
async def runner_socket(websocket: WebSocket) -> None:
    """The runner protocol (lazyaf_protocol.messages): hello, claim, heartbeat, events, complete."""
    await websocket.app.state.hub.serve(websocket)
