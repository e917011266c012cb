"""/api/repos/{repo_id}/cards and /api/cards/{card_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AfterValidator, TypeAdapter

from lazyaf.api.deps import CardDep, RepoDep, SessionDep, SettingsDep
from lazyaf.cards import service as card_service
from lazyaf.cards.models import CardStatus
from lazyaf.cards.schemas import CardCreate, CardDetailRead, CardRead, CardUpdate
from lazyaf.errors import error_responses
from lazyaf.jobs import waiting
from lazyaf.jobs.models import Job
from lazyaf.jobs.schemas import JobRead
from lazyaf.orchestration import announce
from lazyaf.orchestration import cards as card_moves
from lazyaf.validation import INT64_MAX, one_line

router = APIRouter(tags=["cards"])


CARD_LIST = TypeAdapter(list[CardRead])


@router.get("/repos/{repo_id}/cards", response_model=list[CardRead], responses=error_responses(404))
async def list_cards(
    repo: RepoDep,
    session: SessionDep,
    status: Annotated[CardStatus | None, Query(description="Only cards in this column.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text to find in title or description."),
        AfterValidator(one_line),
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="At most this many cards.")] = None,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX, description="Skip this many cards first.")] = 0,
    archived: Annotated[
        bool, Query(description="List the archived cards (To Do cards whose GitHub issue closed) instead.")
    ] = False,
) -> Response:
    """List a repo's cards by column and position; with ``limit``, a page of them, and the number
    of all matching cards in the ``X-Total-Count`` header (the board shows each column's first
    page at once, then loads the rest)."""
    rows = await card_service.list_rows_for_repo(
        session=session, repo=repo, status=status, q=q, limit=limit, offset=offset, archived=archived
    )
    headers = {}
    if limit is not None:
        total = await card_service.count_for_repo(
            session=session, repo=repo, status=status, q=q, archived=archived
        )
        headers["X-Total-Count"] = str(total)
    # Validated once and serialized straight to JSON: a 5,000-card board is one request.
    body = CARD_LIST.dump_json(CARD_LIST.validate_python([dict(r) for r in rows]))
    return Response(body, media_type="application/json", headers=headers)


@router.get("/repos/{repo_id}/current-jobs", responses=error_responses(404))
async def list_current_jobs(repo: RepoDep, session: SessionDep) -> list[JobRead]:
    """The current (latest) job of each of a repo's cards that has one: what the board shows on tiles."""
    jobs = await card_service.current_jobs(session=session, repo=repo)
    return [JobRead.model_validate(j) for j in jobs]


@router.post(
    "/repos/{repo_id}/cards", status_code=status.HTTP_201_CREATED, responses=error_responses(404, 422)
)
async def create_card(repo: RepoDep, card_in: CardCreate, session: SessionDep) -> CardRead:
    """Create a card at the bottom of To Do."""
    card = await card_service.create(session=session, repo=repo, card_in=card_in)
    announce.card_changed(session, card)
    return CardRead.model_validate(card)


@router.get("/cards/{card_id}", responses=error_responses(404))
async def get_card(card: CardDep, session: SessionDep, request: Request) -> CardDetailRead:
    """Get one card; while its job is queued, why it waits (`waiting_reason`)."""
    job = await session.get(Job, card.job_id) if card.job_id is not None else None
    reason = await waiting.for_job(session, job, request.app.state.dispatcher) if job is not None else None
    return CardDetailRead.model_validate(
        {**CardRead.model_validate(card).model_dump(), "waiting_reason": reason}
    )


@router.patch("/cards/{card_id}", responses=error_responses(404, 409, 422))
async def update_card(
    card: CardDep, change: CardUpdate, session: SessionDep, settings: SettingsDep
) -> CardRead:
    """Edit a card, or move it to another column or position (todo -> in_progress starts its agent)."""
    card = await card_moves.update_card(session=session, settings=settings, card=card, change=change)
    return CardRead.model_validate(card)


@router.delete(
    "/cards/{card_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409)
)
async def delete_card(card: CardDep, session: SessionDep) -> Response:
    """Delete a card (not while its agent runs)."""
    await card_moves.delete_card(session=session, card=card)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
