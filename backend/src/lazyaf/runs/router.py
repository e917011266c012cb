"""/api/cards/{id}/runs, /api/repos/{id}/current-runs, /api/runs/{id}: a card's workflow runs and
their steps."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from lazyaf.api.deps import CardDep, RepoDep, SessionDep
from lazyaf.errors import NotFound, error_responses
from lazyaf.runs import service as run_service
from lazyaf.runs.schemas import RunRead

router = APIRouter(tags=["runs"])


@router.get("/cards/{card_id}/runs", responses=error_responses(404))
async def list_card_runs(card: CardDep, session: SessionDep) -> list[RunRead]:
    """The card's runs, newest first, each with its steps in order: status, timings, agent,
    session, git progress (commits, files, lines), cost and tokens, error."""
    return await run_service.for_card(session, card)


@router.get("/repos/{repo_id}/current-runs", responses=error_responses(404))
async def list_current_runs(repo: RepoDep, session: SessionDep) -> list[RunRead]:
    """The latest run of each of a repo's cards that has one (the board's step strips)."""
    return await run_service.latest_per_card(session, repo.id)


@router.get("/runs/{run_id}", responses=error_responses(404))
async def get_run(run_id: uuid.UUID, session: SessionDep) -> RunRead:
    """One run with its steps."""
    found = await run_service.one(session, run_id)
    if found is None:
        raise NotFound(f"No run with id {run_id}; a card's runs are at GET /api/cards/{{id}}/runs.")
    return found
