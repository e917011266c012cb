"""/api/jobs and /api/cards/{id}/start|jobs: queue agent work, read it, follow its log, cancel it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select

from lazyaf import auth
from lazyaf.api.deps import CardDep, SessionDep, SettingsDep
from lazyaf.errors import Conflict, Forbidden, NotFound, error_responses
from lazyaf.jobs import service as job_service
from lazyaf.jobs import sessions as job_sessions
from lazyaf.jobs.models import FINAL_JOB_STATUSES, Job, JobStatus
from lazyaf.jobs.schemas import JobEventRead, JobLogPage, JobRead, StartBody
from lazyaf.orchestration import cards as card_moves
from lazyaf.orchestration import runs
from lazyaf.validation import INT64_MAX

router = APIRouter(tags=["jobs"])


async def get_job_or_404(job_id: uuid.UUID, session: SessionDep) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job with id {job_id}.")
    return job


JobDep = Annotated[Job, Depends(get_job_or_404)]


@router.post(
    "/cards/{card_id}/start", status_code=status.HTTP_201_CREATED, responses=error_responses(404, 409, 422)
)
async def start_card(
    card: CardDep, session: SessionDep, settings: SettingsDep, body: StartBody | None = None
) -> JobRead:
    """Start a run of a workflow for a todo card (``workflow``: GET /api/workflows lists them; none:
    the repo's default); its first step's job is queued and the card moves to in_progress
    (``fresh``: on a new branch; ``review_plan``: stop in review after the plan step). The run's
    steps: GET /api/cards/{id}/runs."""
    body = body or StartBody()
    job = await card_moves.start_card(
        session=session,
        settings=settings,
        card=card,
        fresh=body.fresh,
        workflow=body.workflow,
        review_plan=body.review_plan,
    )
    return JobRead.model_validate(job)


@router.get("/cards/{card_id}/jobs", responses=error_responses(404))
async def list_card_jobs(card: CardDep, session: SessionDep) -> list[JobRead]:
    """Every job of a card, oldest first."""
    jobs = await session.scalars(select(Job).where(Job.card_id == card.id).order_by(Job.queued_at))
    return [JobRead.model_validate(j) for j in jobs]


@router.get("/jobs/{job_id}", responses=error_responses(404))
async def get_job(job: JobDep) -> JobRead:
    """A job's status, error, exit code, shas, stats, cost, tokens, session id and timings."""
    return JobRead.model_validate(job)


@router.post("/jobs/{job_id}/cancel", responses=error_responses(404, 409))
async def cancel_job(job: JobDep, session: SessionDep) -> JobRead:
    """Cancel a job: a queued one at once, a running one as soon as its runner stops the agent."""
    return JobRead.model_validate(await runs.cancel_job(session=session, job=job))


@router.get(
    "/jobs/{job_id}/logs",
    response_model=JobLogPage,
    responses={
        **error_responses(404),
        200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
    },
)
async def get_job_logs(
    job: JobDep,
    request: Request,
    session: SessionDep,
    after: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="Return events with id greater than this.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    follow: Annotated[bool, Query(description="Stream events as NDJSON until the job ends.")] = False,
) -> JobLogPage | StreamingResponse:  # type: ignore[valid-type]
    """The job's normalized agent events, paged by id; ``follow=true`` streams them live."""
    if follow:
        return StreamingResponse(_follow(request, job.id, after), media_type="application/x-ndjson")
    events = await job_service.list_events(session=session, job=job, after=after, limit=limit)
    return JobLogPage(
        events=[JobEventRead.model_validate(e) for e in events],
        next_after=events[-1].id if events else after,
        job_status=job.status,
    )


async def _follow(request: Request, job_id: uuid.UUID, after: int) -> AsyncIterator[bytes]:
    sessionmaker = request.app.state.sessionmaker
    bus = request.app.state.bus
    async with bus.subscribe() as subscription:
        while True:
            async with sessionmaker() as session:
                job = await session.get(Job, job_id)
                if job is None:
                    return
                events = await job_service.list_events(session=session, job=job, after=after, limit=1000)
                final = job.status in FINAL_JOB_STATUSES
            for event in events:
                after = event.id
                yield (JobEventRead.model_validate(event).model_dump_json() + "\n").encode()
            if len(events) == 1000:
                continue
            if final:
                yield (json.dumps({"end": True, "job_status": str(job.status)}) + "\n").encode()
                return
            # Any committed board event may be ours; re-read then (cheap, and never misses one).
            try:
                item = await asyncio.wait_for(subscription.queue.get(), timeout=5)
            except TimeoutError:
                continue
            if item is None:
                return
            while not subscription.queue.empty():
                subscription.queue.get_nowait()


def _check_uploader(principal: auth.Principal, job: Job, attempt: int) -> None:
    """Only the runner holding the attempt may store its session (jobs/sessions.py)."""
    if isinstance(principal, auth.AttemptPrincipal):
        if (principal.job_id, principal.attempt) == (job.id, attempt):
            return
        raise Forbidden("This attempt token is for another attempt; a runner stores only its own session.")
    if isinstance(principal, auth.RunnerPrincipal):
        if job.runner_id == principal.runner_id:
            return
        raise Forbidden("This runner does not hold that job; a runner stores only its attempt's session.")
    raise Forbidden("Session files come only from the runner holding the attempt, with its attempt token.")


@router.put(
    "/jobs/{job_id}/session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 404, 409, 422),
)
async def put_job_session(
    job: JobDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt: Annotated[int, Query(ge=1, le=INT64_MAX)],
    session_id: Annotated[str, Query(pattern=job_sessions.SESSION_ID.pattern)],
) -> Response:
    """Store the agent's session file of a running attempt (its runner calls this; a later job resumes it)."""
    _check_uploader(auth.principal_of(request), job, attempt)
    if job.status != JobStatus.RUNNING or job.attempt != attempt:
        raise Conflict(f"Attempt {attempt} of job {job.id} is not running; its session is not accepted.")
    # A resumed session keeps its id, so the card's own earlier jobs may share it; no other card's.
    elsewhere = select(Job.id).where(Job.session_id == session_id, Job.card_id != job.card_id).limit(1)
    if await session.scalar(elsewhere) is not None:
        raise Forbidden(
            f"Session {session_id} belongs to another card's job; a runner stores only its own session."
        )
    await job_sessions.store(settings, job, attempt, session_id, request.stream())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/sessions/{session_id}",
    responses={
        **error_responses(403, 404),
        200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
    },
    response_class=FileResponse,
)
async def get_session(
    session_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """An agent session file stored by an earlier job (the runner of the job resuming it fetches it)."""
    card_id = await _resuming_card(auth.principal_of(request), session, session_id)
    path = (
        await job_sessions.source(session, settings, session_id, card_id=card_id)
        if job_sessions.SESSION_ID.match(session_id)
        else None
    )
    if path is None:
        raise NotFound(f"No stored agent session {session_id}.")
    return FileResponse(path, media_type="application/x-ndjson")


async def _resuming_card(
    principal: auth.Principal, session: SessionDep, session_id: str
) -> uuid.UUID | None:
    """The card whose sessions a runner may read: that of the running job it holds that resumes
    ``session_id`` (Forbidden when there is none); None for the user, who may read any."""
    if isinstance(principal, auth.UserPrincipal):
        return None
    query = select(Job.card_id).where(Job.status == JobStatus.RUNNING, Job.resume_session == session_id)
    if isinstance(principal, auth.AttemptPrincipal):
        query = query.where(Job.id == principal.job_id, Job.attempt == principal.attempt)
    elif isinstance(principal, auth.RunnerPrincipal):
        query = query.where(Job.runner_id == principal.runner_id)
    else:
        raise Forbidden("Only the runner of a job resuming this session may download it.")
    card_id = await session.scalar(query.limit(1))
    if card_id is None:
        raise Forbidden("Only the runner of a job resuming this session may download it.")
    return card_id
