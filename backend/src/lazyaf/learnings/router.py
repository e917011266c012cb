"""/api/repos/{id}/learnings, /api/learnings/{id}, and a card's learnings: list, write, accept, edit,
retire, delete; keep a review comment as one; mark one helpful or harmful from a card."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from lazyaf.api.deps import CardDep, RepoDep, SessionDep
from lazyaf.errors import error_responses
from lazyaf.learnings import service as learning_service
from lazyaf.learnings.models import Learning, LearningStatus
from lazyaf.learnings.schemas import (
    CardLearningRead,
    CardLearningsRead,
    CommentLearningCreate,
    LearningCreate,
    LearningMarkBody,
    LearningRead,
    LearningUpdate,
)

router = APIRouter(tags=["learnings"])


async def get_learning_or_404(learning_id: uuid.UUID, session: SessionDep) -> Learning:
    return await learning_service.get(session=session, learning_id=learning_id)


LearningDep = Annotated[Learning, Depends(get_learning_or_404)]


@router.get("/repos/{repo_id}/learnings", responses=error_responses(404))
async def list_learnings(
    repo: RepoDep,
    session: SessionDep,
    status: Annotated[LearningStatus | None, Query(description="Only learnings in this status.")] = None,
) -> list[LearningRead]:
    """The repo's learnings, most useful first (helpful minus harmful marks, then uses)."""
    found = await learning_service.list_for_repo(session=session, repo=repo, status=status)
    return [LearningRead.model_validate(learning) for learning in found]


@router.post(
    "/repos/{repo_id}/learnings",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
async def create_learning(repo: RepoDep, learning_in: LearningCreate, session: SessionDep) -> LearningRead:
    """Write a learning for the repo: accepted (prompts of cards touching its paths carry it), or proposed."""
    learning = await learning_service.create(session=session, repo=repo, learning_in=learning_in)
    return LearningRead.model_validate(learning)


@router.get("/learnings/{learning_id}", responses=error_responses(404))
async def get_learning(learning: LearningDep) -> LearningRead:
    """One learning."""
    return LearningRead.model_validate(learning)


@router.patch("/learnings/{learning_id}", responses=error_responses(404, 409, 422))
async def update_learning(learning: LearningDep, change: LearningUpdate, session: SessionDep) -> LearningRead:
    """Accept or retire a learning, or edit its text, paths or kind."""
    learning = await learning_service.update(session=session, learning=learning, change=change)
    return LearningRead.model_validate(learning)


@router.delete(
    "/learnings/{learning_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def delete_learning(learning: LearningDep, session: SessionDep) -> Response:
    """Delete a learning (retire it instead to keep agents from proposing it again)."""
    await learning_service.delete(session=session, learning=learning)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/cards/{card_id}/learnings", responses=error_responses(404))
async def list_card_learnings(card: CardDep, session: SessionDep) -> CardLearningsRead:
    """The learnings the card's agents were given (with the card's verdicts) and those they proposed."""
    return await learning_service.for_card(session=session, card=card)


@router.put("/cards/{card_id}/learnings/{learning_id}/mark", responses=error_responses(404, 422))
async def mark_learning(
    card: CardDep, learning: LearningDep, body: LearningMarkBody, session: SessionDep
) -> CardLearningRead:
    """Mark a learning helpful or harmful for this card (one verdict per card; null takes it back)."""
    return await learning_service.mark(session=session, card=card, learning=learning, verdict=body.verdict)


@router.post(
    "/cards/{card_id}/comments/{comment_id}/learning",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
async def create_learning_from_comment(
    card: CardDep, comment_id: uuid.UUID, body: CommentLearningCreate, session: SessionDep
) -> LearningRead:
    """Keep a review comment as an accepted learning of the card's repo (about the file it is on)."""
    learning = await learning_service.from_comment(
        session=session, card=card, comment_id=comment_id, body=body
    )
    return LearningRead.model_validate(learning)
