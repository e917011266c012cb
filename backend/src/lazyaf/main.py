"""The FastAPI application factory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute

from lazyaf import __version__
from lazyaf.api.router import api_router
from lazyaf.auth import AuthMiddleware, RunnerCredentials
from lazyaf.boundary import AllowedHosts, BoundaryMiddleware
from lazyaf.conflicts.holds import hold_reason as conflict_hold_reason
from lazyaf.conflicts.watcher import ConflictWatcher
from lazyaf.db.engine import make_engine, make_sessionmaker, session_scope
from lazyaf.docs import install_docs
from lazyaf.errors import ErrorRead, install_handlers
from lazyaf.events import schemas as event_schemas
from lazyaf.events.bus import EventBus
from lazyaf.events.router import router as events_router
from lazyaf.events.seqheader import SeqHeaderMiddleware
from lazyaf.git import store
from lazyaf.github.automation import wip_limits
from lazyaf.github.service import GitHubService
from lazyaf.gitserver.app import make_git_app, resolve_git_backend
from lazyaf.gitserver.refs import RefUpdate
from lazyaf.jobs.admission import Admission
from lazyaf.jobs.scheduler import Reaper
from lazyaf.jobs.waiting import QueueWatcher
from lazyaf.limits.watcher import LimitsWatcher
from lazyaf.logging import RequestIdMiddleware
from lazyaf.repos import service as repo_service
from lazyaf.review.queue import ApprovalQueue
from lazyaf.runners.connection import RunnerHub
from lazyaf.runners.pool import RunnerPool
from lazyaf.secretbox import key_store
from lazyaf.settings import Settings
from lazyaf.web import BoardApp

log = structlog.get_logger(__name__)


def _operation_id(route: APIRoute) -> str:
    # Clean ids (list_repos, update_card) for the generated front-end client.
    return route.name


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document say what errors really look like: every 4xx is an ErrorRead."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        schemas = schema.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["ErrorRead"] = ErrorRead.model_json_schema()
        # The board socket's frames (no route describes them): the board's event types come from here.
        for name, component in event_schemas.openapi_components().items():
            if _without_defaults(schemas.setdefault(name, component)) != _without_defaults(component):
                raise RuntimeError(f"Two different schemas are both called {name} in the OpenAPI document.")
        error = {
            "description": "Invalid input",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorRead"}}},
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
                    responses["422"] = error
                if "health" not in operation.get("tags", []):
                    responses["401"] = {**error, "description": "A non-loopback client without the token"}
                # The boundary (boundary.py) answers these before any route runs.
                responses["400"] = {**error, "description": "A Host this server does not answer to"}
                responses["403"] = {
                    **error,
                    "description": "Sent by another web page (Origin, Sec-Fetch-Site), or with a runner's or "
                    "attempt's credential, which may not do this",
                }
                if operation.get("requestBody"):
                    responses["413"] = {**error, "description": "A body over the API's size limit"}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _without_defaults(schema: Any) -> Any:
    """A schema without its ``default`` keys (FastAPI leaves out the defaults of response models)."""
    if isinstance(schema, dict):
        return {k: _without_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_without_defaults(v) for v in schema]
    return schema


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings``: API under /api, the git server under /git."""
    settings.ensure_dirs()
    engine = make_engine(settings.sqlalchemy_url)
    sessionmaker = make_sessionmaker(engine)

    credentials = RunnerCredentials.load(settings)
    bus = EventBus(sessionmaker)
    hub = RunnerHub(settings, sessionmaker, credentials)
    bus.listeners.append(hub.on_board_event)
    # The Host names this server answers to (BoundaryMiddleware); the pool adds the gateway of its
    # Docker runners' network while it listens there (runners/gateway.py).
    allowed_hosts = AllowedHosts.from_settings(settings)
    pool = RunnerPool(settings, sessionmaker, hub, credentials, allowed_hosts=allowed_hosts)
    reaper = Reaper(settings, sessionmaker, pool)
    reaper.after_sweep.append(hub.wake_if_queued)
    reaper.heard_from = hub.heard_from
    secrets = key_store(settings)  # keys load (and the key file appears) on first use
    github = GitHubService(settings, sessionmaker, secrets)
    bus.listeners.append(github.commands.on_board_event)  # a job moved: a command's run may move on
    # The WIP limit: cards waiting to auto-start start when a slot frees (jobs/admission.py).
    admission = Admission(settings, sessionmaker, wip_limits)
    bus.listeners.append(admission.on_board_event)

    async def admit_soon() -> None:
        admission.request()

    reaper.after_sweep.append(admit_soon)
    # Why queued jobs wait, kept current for the board (jobs/waiting.py), from the scheduler's
    # decision (orchestration/dispatch.py): the claims and every view of the queue consult it.
    queue = QueueWatcher(sessionmaker, hub.dispatcher)
    bus.listeners.append(queue.on_board_event)
    # Conflict prediction after every branch move, off the request path (conflicts/watcher.py).
    conflicts = ConflictWatcher(settings, sessionmaker)
    bus.listeners.append(conflicts.on_board_event)
    queue.on_release.append(hub.wake_if_queued)  # a hold ended by time alone (midnight, a cooldown)
    # Today's spend and counts against the limits, kept current for the board (limits/watcher.py).
    limits_watcher = LimitsWatcher(sessionmaker)
    bus.listeners.append(limits_watcher.on_board_event)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        reaper.start()
        await pool.restore()
        await github.start()
        admission.request()  # cards left waiting before a restart
        await queue.refresh(starting=True)
        await conflicts.start()
        await limits_watcher.refresh()
        log.info("server_started", data_dir=str(settings.data_dir), git_backend=app.state.git_backend)
        try:
            yield
        finally:
            await pool.close()
            await github.stop()
            await admission.stop()
            await queue.stop()
            await conflicts.stop()
            await limits_watcher.stop()
            await reaper.stop()
            await bus.stop()
            await engine.dispose()

    app = FastAPI(
        title="LazyAF",
        version=__version__,
        summary="A local Kanban board that turns cards into work done by AI coding agents.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served from the installed package by install_docs, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.allowed_hosts = allowed_hosts
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.git_backend = resolve_git_backend(settings)
    app.state.ref_listeners = [conflicts.on_push]
    app.state.bus = bus
    app.state.hub = hub
    app.state.reaper = reaper
    app.state.pool = pool
    app.state.queue = queue
    app.state.limits_watcher = limits_watcher
    app.state.dispatcher = hub.dispatcher
    # Extra reasons to hold queued work (orchestration.dispatch.HoldCheck): append to register one.
    app.state.hold_checks = hub.dispatcher.holds
    app.state.hold_checks.append(conflict_hold_reason)  # a repo's conflict_policy: hold
    app.state.approvals = ApprovalQueue()  # approvals of a repo take turns (review/queue.py)
    pool.app = app
    app.state.credentials = credentials
    app.state.secrets = secrets
    app.state.github = github
    app.state.admission = admission
    app.state.conflicts = conflicts

    async def resolve_repo(repo_id: uuid.UUID) -> bool:
        # The bare repo exists exactly while its row does (created before the row commits, moved
        # aside before the delete commits); a stat costs far less than a query on every git request.
        return await anyio.Path(store.repo_path(settings.git_repos_dir, repo_id)).is_dir()

    async def resolve_name(name: str) -> uuid.UUID | None:
        async with sessionmaker() as session:
            return await repo_service.find_by_name(session, name)

    async def on_push(repo_id: uuid.UUID, updates: list[RefUpdate]) -> None:
        async with session_scope(sessionmaker) as session:
            await repo_service.record_push(
                session=session, settings=settings, repo_id=repo_id, updates=updates
            )
        for listener in app.state.ref_listeners:
            await listener(repo_id, updates)

    install_handlers(app)
    _document_errors(app)
    install_docs(app)
    app.include_router(api_router)
    app.include_router(events_router)
    app.mount(
        "/git",
        make_git_app(
            settings, backend=app.state.git_backend, resolve_repo=resolve_repo, on_push=on_push,
            resolve_name=resolve_name,
        ),
    )
    # Last: everything that is not the API, /ws or git is the board.
    app.mount("/", BoardApp(settings.frontend_dir), name="board")
    app.add_middleware(SeqHeaderMiddleware, bus=bus)
    app.add_middleware(AuthMiddleware, settings=settings, credentials=credentials, sessionmaker=sessionmaker)
    app.add_middleware(RequestIdMiddleware)
    # Outermost: Host, Origin and body-size refusals happen before anything else runs.
    app.add_middleware(BoundaryMiddleware, settings=settings, allowed_hosts=app.state.allowed_hosts)
    return app
