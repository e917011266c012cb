"""The /api router: health plus every domain router."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from lazyaf import __version__
from lazyaf.agents.router import router as agents_router
from lazyaf.api.deps import SettingsDep, public_base_url
from lazyaf.cards.router import router as cards_router
from lazyaf.conflicts.router import router as conflicts_router
from lazyaf.github.commands.router import router as github_commands_router
from lazyaf.github.router import router as github_router
from lazyaf.jobs.router import router as jobs_router
from lazyaf.learnings.router import router as learnings_router
from lazyaf.limits.router import router as limits_router
from lazyaf.metrics.router import router as metrics_router
from lazyaf.orchestration.router import router as meta_router
from lazyaf.repos.router import router as repos_router
from lazyaf.review.router import router as review_router
from lazyaf.runners.router import router as runners_router
from lazyaf.runs.router import router as runs_router
from lazyaf.work_orders.router import router as work_orders_router
from lazyaf.workflows.router import router as workflows_router


class HealthRead(BaseModel):
    status: Literal["ok"]
    version: str
    git_backend: Literal["git", "dulwich"]
    database: str
    public_url: str = Field(
        description="Where clients reach this server (LAZYAF_PUBLIC_URL, else this request's address): "
        "what a runner added by hand dials."
    )


health_router = APIRouter(tags=["health"])


@health_router.get("/health")
async def health(request: Request, settings: SettingsDep) -> HealthRead:
    """Say the server is up, which git backend serves packs, which database it uses, and its public URL."""
    return HealthRead(
        status="ok",
        version=__version__,
        git_backend=request.app.state.git_backend,
        database=request.app.state.engine.dialect.name,
        public_url=public_base_url(request, settings),
    )


api_router = APIRouter(prefix="/api")
api_router.include_router(health_router)
api_router.include_router(repos_router)
api_router.include_router(cards_router)
api_router.include_router(jobs_router)
api_router.include_router(runners_router)
api_router.include_router(review_router)
api_router.include_router(meta_router)
api_router.include_router(github_router)
api_router.include_router(github_commands_router)
api_router.include_router(agents_router)
api_router.include_router(learnings_router)
api_router.include_router(conflicts_router)
api_router.include_router(metrics_router)
api_router.include_router(limits_router)
api_router.include_router(runs_router)
api_router.include_router(workflows_router)
api_router.include_router(work_orders_router)
