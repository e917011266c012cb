"""Why a queued job waits, in one place: for the API (``GET /api/cards/{id}`` → ``waiting_reason``)
and for the board (``GET /api/runners`` → ``waiting``, then ``queue_updated`` events).

A job waits for a runner that could take it (any connected runner: dispatch does not choose by
agent), for the jobs ahead of it in dispatch order (priority, then age, with aging), and for the
limits (``orchestration.dispatch``, the scheduler's decision, says which jobs are held). The
reasons, by ``code``:

* ``held``: a limit or a hold check holds it: "held: daily_usd 19.80 of 20.00" (``limit``,
  ``scope``, ``value``, ``maximum``, and ``until`` when time alone releases it);
* ``over_budget``: its card has spent its ``per_card_usd``: it fails instead of starting;

* ``no_runner``: no runner is connected and none is starting: "waiting for a runner — none is running";
* ``starting``: none is connected yet, but pool runners are starting or waiting to restart;
* ``runner_failed``: none is connected, and the pool gave up on runners that kept crashing;
* ``busy``: runners are connected, all taken by this job's turn: "waiting: 2 ahead, 1 runner busy";
* ``next``: an idle runner is free for it (it is being handed over right now).

Held jobs are not "ahead" of anyone: ``ahead`` counts the jobs before it that may start.

Kept current on the board without polling and without stale tiles: card events and card lists do
not carry a reason (it changes with every runner and every other job, which would mean re-sending
every queued card). Instead ``QueueWatcher`` recomputes the reasons of the first ``BOARD_LIMIT``
queued jobs after each change of the queue or the runners (coalesced over ``DEBOUNCE`` s) and, when
any differs from what it last announced, records a ``queue_updated`` event with all of them: each
event replaces the board's whole map, so no reason outlives its job or its cause. Jobs further back
show as plainly queued on the board; their card's ``waiting_reason`` is exact. A hold that time
alone ends (local midnight, a cooldown) sets a timer: the reasons are recomputed then and the
``on_release`` callbacks (the hub: wake a runner) are called.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.conflicts.holds import RELEASING_STATUSES
from lazyaf.db.engine import session_scope
from lazyaf.events.bus import EventBus
from lazyaf.events.models import BoardEvent
from lazyaf.events.schemas import EventType, QueueUpdated
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.jobs.schemas import HoldRead, WaitingCode, WaitingReason
from lazyaf.limits.policy import Hold
from lazyaf.orchestration.dispatch import Dispatcher, Verdict
from lazyaf.runners.models import Runner, RunnerStatus

log = structlog.get_logger(__name__)
BOARD_LIMIT = 200
DEBOUNCE = 0.05
RELEASE_MARGIN = 0.05
"""Seconds after a hold's end the release timer fires (the decision then sees it ended)."""


@dataclass
class Runners:
    """What the runners can do for the queue right now."""

    online: int = 0
    busy: int = 0
    starting: list[str] = field(default_factory=list)
    restarting: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def idle(self) -> int:
        return self.online - self.busy


def _runners_word(count: int) -> str:
    return f"{count} runner{'' if count == 1 else 's'}"


def reason(ahead: int, runners: Runners) -> WaitingReason:
    """The reason a job with ``ahead`` jobs before it waits, given ``runners``."""
    fields: dict[str, Any] = {
        "ahead": ahead,
        "busy": runners.busy,
        "runners": runners.online,
        "starting": runners.starting + runners.restarting,
        "failed": runners.failed,
    }
    if runners.online == 0:
        if runners.starting or runners.restarting:
            names = runners.starting + runners.restarting
            if len(names) > 1:
                what = f"{len(names)} are starting"
            else:
                what = f"{names[0]} is {'starting' if runners.starting else 'restarting'}"
            return WaitingReason(
                code=WaitingCode.STARTING, message=f"waiting for a runner — {what}", **fields
            )
        if runners.failed:
            who = (
                f"{runners.failed[0]} keeps crashing and was stopped"
                if len(runners.failed) == 1
                else f"{len(runners.failed)} runners keep crashing and were stopped"
            )
            message = f"waiting for a runner — {who}; retry in the runner panel"
            return WaitingReason(code=WaitingCode.RUNNER_FAILED, message=message, **fields)
        return WaitingReason(
            code=WaitingCode.NO_RUNNER, message="waiting for a runner — none is running", **fields
        )
    if ahead < runners.idle:
        return WaitingReason(code=WaitingCode.NEXT, message="waiting: a runner is taking it", **fields)
    place = "next in line" if ahead == 0 else f"{ahead} ahead"
    message = f"waiting: {place}, {_runners_word(runners.busy)} busy"
    return WaitingReason(code=WaitingCode.BUSY, message=message, **fields)


async def runners_now(session: AsyncSession) -> Runners:
    """Connected runners (busy or idle), and pool runners on their way or given up on."""
    rows = (
        await session.execute(
            select(Runner.name, Runner.status, Runner.pooled, Runner.restart_at, Runner.failed_at).order_by(
                Runner.name
            )
        )
    ).all()
    found = Runners()
    for name, status, pooled, restart_at, failed_at in rows:
        if status != RunnerStatus.OFFLINE:
            found.online += 1
            found.busy += status == RunnerStatus.BUSY
        elif pooled and failed_at is not None:
            found.failed.append(name)
        elif pooled and restart_at is not None:
            found.restarting.append(name)
        elif pooled:
            found.starting.append(name)
    return found


def held(hold: Hold, ahead: int, runners: Runners) -> WaitingReason:
    """The reason of a job a limit or a hold check holds (or that fails for its card's budget)."""
    return WaitingReason(
        code=WaitingCode.OVER_BUDGET if hold.scope == "card" else WaitingCode.HELD,
        message=hold.message,
        ahead=ahead,
        busy=runners.busy,
        runners=runners.online,
        starting=runners.starting + runners.restarting,
        failed=runners.failed,
        hold=HoldRead(
            limit=hold.limit,
            scope=hold.scope,
            repo_id=hold.repo_id,
            value=hold.value,
            maximum=hold.maximum,
            until=hold.until,
        ),
    )


def reasons(verdicts: list[Verdict], runners: Runners) -> dict[uuid.UUID, WaitingReason]:
    """Each job's reason, from the decision's verdicts in dispatch order."""
    found: dict[uuid.UUID, WaitingReason] = {}
    ahead = 0
    for verdict in verdicts:
        stop = verdict.hold or verdict.fail
        if stop is None:
            found[verdict.queued.job_id] = reason(ahead, runners)
            ahead += 1
        else:
            found[verdict.queued.job_id] = held(stop, ahead, runners)
    return found


async def for_job(session: AsyncSession, job: Job, dispatcher: Dispatcher) -> WaitingReason | None:
    """Why ``job`` waits; None unless it is queued."""
    if job.status != JobStatus.QUEUED:
        return None
    verdicts, _ = await dispatcher.preview(session, until=job.id)
    runners = await runners_now(session)
    return reasons(verdicts, runners).get(job.id) or reason(0, runners)


async def for_queue(
    session: AsyncSession, dispatcher: Dispatcher, limit: int = BOARD_LIMIT
) -> dict[uuid.UUID, WaitingReason]:
    """Why each of the first ``limit`` queued jobs waits, in dispatch order."""
    verdicts, _ = await dispatcher.preview(session, limit=limit)
    if not verdicts:
        return {}
    return reasons(verdicts, await runners_now(session))


def as_json(reasons: dict[uuid.UUID, WaitingReason]) -> dict[str, dict[str, Any]]:
    return {str(job_id): r.model_dump(mode="json") for job_id, r in reasons.items()}


class QueueWatcher:
    """Keeps the board's waiting reasons current (module docstring): listens to board events after
    commit (``EventBus.listeners``) and records ``queue_updated`` when a reason changed."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], dispatcher: Dispatcher) -> None:
        self.sessionmaker = sessionmaker
        self.dispatcher = dispatcher
        # Called when a hold ends by time alone (the hub wakes a runner to claim).
        self.on_release: list[Callable[[], Awaitable[None]]] = []
        self._last: dict[str, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()
        self._pending: asyncio.TimerHandle | None = None
        self._release: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        """The reasons last announced (what a board loading now must start from)."""
        if self._last is None:
            await self.refresh()
        return dict(self._last or {})

    def on_board_event(self, row: BoardEvent) -> None:
        if row.type in (EventType.RUNNER_STATUS, EventType.RUNNER_DELETED):
            interesting = bool(self._last)  # runners matter only while jobs wait
        elif row.type == EventType.JOB_STATUS:
            # While jobs wait, any job that starts or ends changes the counts the limits hold them by.
            interesting = row.data["job"]["status"] == "queued" or bool(self._last)
        elif row.type == EventType.CARD_UPDATED:
            # A card that leaves review may end a conflict hold on another (conflicts.holds).
            interesting = bool(self._last) and row.data["card"]["status"] in RELEASING_STATUSES
        else:
            interesting = row.type == EventType.LIMITS_UPDATED and bool(self._last)
        if interesting and self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(DEBOUNCE, self._fire)

    def _fire(self, release: bool = False) -> None:
        if release:
            self._release = None
        else:
            self._pending = None
        task = asyncio.get_running_loop().create_task(self._released() if release else self.refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _released(self) -> None:
        await self.refresh()
        for callback in self.on_release:
            try:
                await callback()
            except Exception:
                log.exception("queue_release_callback_failed")

    def _schedule_release(self, current: dict[str, dict[str, Any]]) -> None:
        """A timer for the first hold that time alone ends (midnight, a cooldown), if any."""
        if self._release is not None:
            self._release.cancel()
            self._release = None
        ends = [
            datetime.fromisoformat(r["hold"]["until"])
            for r in current.values()
            if (r.get("hold") or {}).get("until")
        ]
        if not ends:
            return
        delay = (min(ends) - datetime.now(UTC)).total_seconds() + RELEASE_MARGIN
        self._release = asyncio.get_running_loop().call_later(max(delay, 0.0), self._fire, True)

    async def refresh(self, *, starting: bool = False) -> None:
        """Recompute; record ``queue_updated`` if anything differs from the last announcement (at
        start-up: whenever jobs wait, since boards that reconnect may hold reasons from before)."""
        async with self._lock:
            try:
                async with session_scope(self.sessionmaker) as session:
                    current = as_json(await for_queue(session, self.dispatcher))
                    last = {} if starting else self._last
                    if last is not None and current != last:
                        waiting = {uuid.UUID(job_id): WaitingReason(**r) for job_id, r in current.items()}
                        EventBus.record(session, QueueUpdated(waiting=waiting))
            except Exception:
                log.exception("queue_refresh_failed")
                return
            self._last = current
            self._schedule_release(current)

    async def stop(self) -> None:
        for timer in (self._pending, self._release):
            if timer is not None:
                timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
