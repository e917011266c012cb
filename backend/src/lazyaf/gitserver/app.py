"""ASGI app serving git smart-HTTP at /git/{repo_id}.git/... (being written)."""

from __future__ import annotations

import shutil

from starlette.types import ASGIApp, Receive, Scope, Send

from lazyaf.gitserver.refs import RefListener, RepoResolver
from lazyaf.settings import Settings


def resolve_git_backend(settings: Settings) -> str:
    if settings.git_backend != "auto":
        return settings.git_backend
    return "git" if shutil.which(settings.git_binary) else "dulwich"


def make_git_app(settings: Settings, *, backend: str, resolve_repo: RepoResolver, on_push: RefListener) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    return app
