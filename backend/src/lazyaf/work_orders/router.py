"""/api/work-orders: seed 001's Agent Work Order API, a view over cards and runs.

A work order's id is its run's id. ``POST`` creates a card and starts its run in one
transaction (a refused start leaves no card); the reads come from the card, the run, its steps,
their jobs and git refs.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import TypeAdapter

from lazyaf.api.deps import SessionDep, SettingsDep
from lazyaf.errors import error_responses
from lazyaf.runs.models import Run, RunStatus
from lazyaf.runs.schemas import RunStepRead
from lazyaf.validation import INT64_MAX
from lazyaf.work_orders import service
from lazyaf.work_orders.schemas import GitProgressRead, WorkOrderCreate, WorkOrderLogPage, WorkOrderRead

router = APIRouter(prefix="/work-orders", tags=["work-orders"])
ORDERS = TypeAdapter(list[WorkOrderRead])


async def get_work_order_or_404(work_order_id: uuid.UUID, session: SessionDep) -> Run:
    return await service.get(session, work_order_id)


WorkOrderDep = Annotated[Run, Depends(get_work_order_or_404)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409, 422))
async def create_work_order(
    order: WorkOrderCreate, session: SessionDep, settings: SettingsDep
) -> WorkOrderRead:
    """Create a card for the prompt and start its run with the workflow (the repo's default when
    omitted); the work order's id is the run's. Nothing is created when the start is refused."""
    run = await service.create(session=session, settings=settings, order=order)
    (read,) = await service.read(session, [run])
    return read


@router.get("", response_model=list[WorkOrderRead], responses=error_responses(422))
async def list_work_orders(
    session: SessionDep,
    repo: Annotated[str | None, Query(max_length=100, description="Only this repo's (name or id).")] = None,
    status: Annotated[RunStatus | None, Query(description="Only work orders in this status.")] = None,
    card: Annotated[
        uuid.UUID | None, Query(description="Only this card's (a card has a run per start).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Response:
    """Work orders, newest first; how many match in ``X-Total-Count``."""
    found = await service.find_repo(session, repo) if repo is not None else None
    runs, total = await service.list_runs(
        session=session, repo=found, status=status, card_id=card, limit=limit, offset=offset
    )
    body = ORDERS.dump_json(await service.read(session, runs))
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(total)})


@router.get("/{work_order_id}", responses=error_responses(404))
async def get_work_order(run: WorkOrderDep, session: SessionDep) -> WorkOrderRead:
    """One work order: its status, its card's, and its steps with their figures."""
    (read,) = await service.read(session, [run])
    return read


@router.get("/{work_order_id}/steps", responses=error_responses(404))
async def list_work_order_steps(run: WorkOrderDep, session: SessionDep) -> list[RunStepRead]:
    """The work order's steps, in order: status, timings, agent, session, cost, tokens, git progress."""
    (read,) = await service.read(session, [run])
    return read.steps


@router.get("/{work_order_id}/git-progress", responses=error_responses(404))
async def get_work_order_git_progress(
    run: WorkOrderDep, session: SessionDep, settings: SettingsDep
) -> GitProgressRead:
    """Commits, files and lines the run added to its card's branch, from refs, in all and by step."""
    return await service.git_progress(session=session, settings=settings, run=run)


@router.get("/{work_order_id}/logs", responses=error_responses(404))
async def get_work_order_logs(
    run: WorkOrderDep,
    session: SessionDep,
    after: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="Return events with id greater than this.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    step: Annotated[
        int | None, Query(ge=0, le=1000, description="Only the step at this position (0 first).")
    ] = None,
) -> WorkOrderLogPage:
    """The agent events of every attempt of the work order's steps, oldest first, paged by id."""
    events = await service.events(session=session, run=run, after=after, limit=limit, position=step)
    return WorkOrderLogPage(events=events, next_after=events[-1].id if events else after, status=run.status)
