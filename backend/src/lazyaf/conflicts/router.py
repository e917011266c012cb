"""/api/cards/{card_id}/conflicts and /api/repos/{repo_id}/conflicts: the predicted collisions."""

from __future__ import annotations

from fastapi import APIRouter

from lazyaf.api.deps import CardDep, RepoDep, SessionDep
from lazyaf.conflicts import service
from lazyaf.conflicts.schemas import ConflictRead, RepoConflictsRead
from lazyaf.errors import error_responses

router = APIRouter(tags=["conflicts"])


@router.get("/cards/{card_id}/conflicts", responses=error_responses(404))
async def list_card_conflicts(card: CardDep, session: SessionDep) -> list[ConflictRead]:
    """The card branch's predicted collisions with other active cards' branches and with the target
    branch, conflicts first (kept current after every push; empty when none)."""
    return await service.for_card(session, card)


@router.get("/repos/{repo_id}/conflicts", responses=error_responses(404))
async def list_repo_conflicts(repo: RepoDep, session: SessionDep) -> RepoConflictsRead:
    """Every card's predicted collisions in the repo, by card id (what the board's tiles show)."""
    return RepoConflictsRead(cards=await service.for_repo(session, repo.id))
