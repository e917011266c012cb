"""The FastAPI application factory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute

from lazyaf import __version__
from lazyaf.api.router import api_router
from lazyaf.auth import TokenAuthMiddleware
from lazyaf.db.engine import make_engine, make_sessionmaker, session_scope
from lazyaf.errors import install_handlers
from lazyaf.gitserver.app import make_git_app, resolve_git_backend
from lazyaf.gitserver.refs import RefUpdate
from lazyaf.logging import RequestIdMiddleware
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)


def _operation_id(route: APIRoute) -> str:
    # Clean ids (list_repos, update_card) for the generated front-end client.
    return route.name


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings``: API under /api, the git server under /git."""
    settings.ensure_dirs()
    engine = make_engine(settings.sqlalchemy_url)
    sessionmaker = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("server_started", data_dir=str(settings.data_dir), git_backend=app.state.git_backend)
        yield
        await engine.dispose()

    app = FastAPI(
        title="LazyAF",
        version=__version__,
        summary="A local Kanban board that turns cards into work done by AI coding agents.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.git_backend = resolve_git_backend(settings)
    app.state.ref_listeners = []

    async def resolve_repo(repo_id: uuid.UUID) -> bool:
        async with sessionmaker() as session:
            return await session.get(Repo, repo_id) is not None

    async def on_push(repo_id: uuid.UUID, updates: list[RefUpdate]) -> None:
        async with session_scope(sessionmaker) as session:
            await repo_service.record_push(session=session, settings=settings, repo_id=repo_id, updates=updates)
        for listener in app.state.ref_listeners:
            await listener(repo_id, updates)

    install_handlers(app)
    app.include_router(api_router)
    app.mount("/git", make_git_app(settings, backend=app.state.git_backend, resolve_repo=resolve_repo, on_push=on_push))
    app.add_middleware(TokenAuthMiddleware, settings=settings)
    app.add_middleware(RequestIdMiddleware)
    return app
