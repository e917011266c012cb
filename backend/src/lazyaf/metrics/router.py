"""/api/metrics: how well the agents and the reviews did over a period, for one repo or all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lazyaf.api.deps import SessionDep
from lazyaf.errors import error_responses
from lazyaf.metrics import service as metrics_service
from lazyaf.metrics.schemas import MetricsRead

router = APIRouter(tags=["metrics"])

RepoRef = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="A repo's id or name; every repo when left out."),
]
Days = Annotated[int, Query(ge=1, le=365, description="The last this many days, today included.")]
TimeZone = Annotated[
    str | None,
    Query(
        max_length=64,
        description="The IANA time zone whose days these are (Europe/Berlin); the server's when left out.",
    ),
]


@router.get("/metrics", responses=error_responses(404, 422))
async def get_metrics(
    session: SessionDep, repo: RepoRef = None, days: Days = 30, tz: TimeZone = None
) -> MetricsRead:
    """Cards done, success rates, attempts per card, time to review and to merge, cost and tokens
    per card and per day, failure reasons, conflicts and learnings, from what was recorded."""
    found = await metrics_service.find_repo(session=session, ref=repo) if repo is not None else None
    return await metrics_service.compute(session=session, repo=found, days=days, tz=tz)
