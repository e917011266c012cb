"""/api/meta/transitions: the state tables, so that clients show the server's rules and words."""

from __future__ import annotations

from fastapi import APIRouter

from lazyaf.orchestration.schemas import TransitionsRead, transitions

router = APIRouter(prefix="/meta", tags=["meta"])
TABLES = transitions()  # fixed at import: the tables are code


@router.get("/transitions")
async def get_transitions() -> TransitionsRead:
    """Who may move a card, run, step or attempt from which status to which, by which action, and
    the sentence for every move a person cannot make (the board's drag rules come from here)."""
    return TABLES
