"""/api/limits, /api/repos/{id}/limits and /api/queue: budgets and limits, and the queue they hold."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.api.deps import RepoDep, SessionDep
from lazyaf.errors import InvalidInput, NotFound, error_responses
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import LimitsUpdated
from lazyaf.jobs import waiting
from lazyaf.limits import service as limits_service
from lazyaf.limits.policy import Limits, effective
from lazyaf.limits.schemas import (
    LimitsRead,
    LimitsUpdate,
    PriorityDepth,
    QueueEntry,
    QueueRead,
    QueueStats,
    RepoLimitsRead,
    RepoLimitsUpdate,
)
from lazyaf.orchestration.dispatch import Dispatcher
from lazyaf.repos.models import Repo

router = APIRouter(tags=["limits"])


@router.get("/limits")
async def get_limits(session: SessionDep) -> LimitsRead:
    """The global limits, and today's spend and counts against them (each repo with limits or work today)."""
    return limits_service.overview(await limits_service.snapshot(session))


@router.put("/limits", responses=error_responses(422))
async def put_limits(change: LimitsUpdate, session: SessionDep) -> LimitsRead:
    """Set any of the global limits (null: no limit; keys left out stay); held work is released at once
    when a limit it waits for is raised."""
    current = await limits_service.read(session)
    _check_cooldown(_merged(current, change.changes()), "the global limits")
    await limits_service.write(session, change.changes())
    return await _announce(session)


@router.get("/repos/{repo_id}/limits", responses=error_responses(404))
async def get_repo_limits(repo: RepoDep, session: SessionDep) -> RepoLimitsRead:
    """A repo's own limits, what it is held to (the global defaults where it has none), its usage today."""
    return limits_service.repo_view(await limits_service.snapshot(session), repo.id)


@router.put("/repos/{repo_id}/limits", responses=error_responses(404, 422))
async def put_repo_limits(repo: RepoDep, change: RepoLimitsUpdate, session: SessionDep) -> RepoLimitsRead:
    """Set any of a repo's own limits (null: none of its own, the global one applies; others stay)."""
    limits, own = await limits_service.read(session), await limits_service.read(session, repo.id)
    rule = effective(limits, _merged(own, change.changes()))
    _check_cooldown(rule, f"repo {repo.name}")
    await limits_service.write(session, change.changes(), repo.id)
    view = await _announce(session)
    found = next((r for r in view.repos if r.repo_id == repo.id), None)
    return found or limits_service.repo_view(await limits_service.snapshot(session), repo.id)


def _merged(limits: Limits, changes: dict[str, Any]) -> Limits:
    return replace(limits, **changes)


def _check_cooldown(rule: Any, where: str) -> None:
    if rule.failure_cooldown_after is not None and rule.cooldown_s is None:
        raise InvalidInput(
            f"failure_cooldown_after needs cooldown_s for {where}: set how many seconds the repo pauses "
            "after that many failed runs in a row (or set failure_cooldown_after to null)."
        )


async def _announce(session: AsyncSession) -> LimitsRead:
    """The limits as they are now, recorded as a board event (it wakes runners for released work)."""
    view = limits_service.overview(await limits_service.snapshot(session))
    EventBus.record(session, LimitsUpdated(limits=view, changed=True))
    return view


@router.get("/queue", responses=error_responses(404))
async def get_queue(
    request: Request,
    session: SessionDep,
    repo: Annotated[uuid.UUID | None, Query(description="Only this repo's queued attempts.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many entries.")] = 500,
) -> QueueRead:
    """Queued and held attempts in dispatch order, each with its reason for waiting, and the queue's stats."""
    if repo is not None and await session.get(Repo, repo) is None:
        raise NotFound(f"No repo with id {repo}; list repos with GET /api/repos.")
    dispatcher: Dispatcher = request.app.state.dispatcher
    verdicts, snap = await dispatcher.preview(session)
    reasons = waiting.reasons(verdicts, await waiting.runners_now(session))
    aging = dispatcher.settings.queue_aging_s
    entries: list[QueueEntry] = []
    depth: dict[int, list[int]] = {p: [0, 0] for p in range(3, -1, -1)}
    for position, verdict in enumerate(verdicts, start=1):
        queued = verdict.queued
        counts = depth.setdefault(queued.priority, [0, 0])
        counts[0] += 1
        counts[1] += not verdict.free
        if repo is not None and queued.repo_id != repo:
            continue
        waited = max(0.0, (snap.now - queued.queued_at).total_seconds())
        entries.append(
            QueueEntry(
                position=position,
                job_id=queued.job_id,
                card_id=queued.card_id,
                card_title=queued.card_title,
                repo_id=queued.repo_id,
                repo_name=snap.repo_names.get(queued.repo_id, ""),
                kind=queued.kind,
                step_id=queued.step_id,
                priority=queued.priority,
                effective_priority=round(queued.priority + (waited / aging if aging > 0 else 0.0), 3),
                queued_at=queued.queued_at,
                waited_s=round(waited, 3),
                held=not verdict.free,
                reason=reasons[queued.job_id],
            )
        )
    oldest = min((v.queued.queued_at for v in verdicts), default=None)
    return QueueRead(
        jobs=entries[:limit],
        total=len(entries),
        aging_s=aging,
        stats=QueueStats(
            queued=len(verdicts),
            held=sum(not v.free for v in verdicts),
            running=snap.total.running,
            by_priority=[
                PriorityDepth(priority=p, queued=q, held=h)
                for p, (q, h) in sorted(depth.items(), reverse=True)
            ],
            oldest_queued_at=oldest,
            oldest_wait_s=round((snap.now - oldest).total_seconds(), 3) if oldest else None,
        ),
    )
