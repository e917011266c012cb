"""/api/workflows and /api/cards/{id}/prompt: the presets a card can run, and follow-up prompts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from lazyaf.api.deps import CardDep, SessionDep, SettingsDep
from lazyaf.errors import error_responses
from lazyaf.workflows import service
from lazyaf.workflows.schemas import PromptCreate, PromptRead, WorkflowList

router = APIRouter(tags=["workflows"])


@router.get("/workflows", responses=error_responses(404, 422))
async def list_workflows(
    session: SessionDep,
    settings: SettingsDep,
    repo: Annotated[
        str | None,
        Query(max_length=100, description="A repo's name or id: its own presets too, and its default."),
    ] = None,
) -> WorkflowList:
    """The workflow presets (built-in, and the repo's `.lazyaf/workflows/*.yaml` on its default
    branch), each with its steps, and the workflow the repo's cards run by default."""
    return await service.list_workflows(session=session, settings=settings, repo_ref=repo)


@router.post(
    "/cards/{card_id}/prompt",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 422),
)
async def prompt_card(
    card: CardDep, body: PromptCreate, session: SessionDep, settings: SettingsDep
) -> PromptRead:
    """Tell the card's agent something in its session: while a step runs the text is queued and
    delivered as the next turn of that step's session when it ends; on a card in review it starts
    an `iterate` step that resumes the session (a plan waiting for review is re-planned with it)."""
    return await service.prompt(session=session, settings=settings, card=card, text=body.text)
