"""The scheduler's decision: which queued attempt a runner gets next, and why the others wait.

One place decides, for the claim and for every view of the queue (``GET /api/queue``, the board's
waiting reasons): ``Dispatcher``. It walks the queue in dispatch order (priority, then age, with
aging: ``limits.service.dispatch_order``) and, for each attempt, asks in turn:

1. the limits (``limits.policy``): held by a global or a repo limit (``held: daily_usd 19.80 of
   20.00``), or over its card's ``per_card_usd`` (it fails with that reason instead of starting);
2. the hold checks registered on it (``Dispatcher.holds``, also ``app.state.hold_checks``): each
   is a ``HoldCheck``, ``async (session, settings, job) -> str | None``; a sentence holds the job
   (shown as ``held: <sentence>``), None lets it go. They run in order, only for attempts no limit
   holds, inside the claim's transaction: keep them to a query or two, and do not write. A
   preview asks them about every attempt it shows (the board's reasons: the first 200), so a
   check that reads something shared should keep it for the transaction (``session.info``).

The first attempt that passes is claimed (``attempts.claim``), guarded: the UPDATE that takes it
re-checks the running counts the limits cap (SQLite evaluates them under its write lock), and on
PostgreSQL decisions take turns on an advisory lock, so two runners claiming at once never both
take a repo's last slot. Nothing is written for held attempts: a hold is a reason computed from
the limits and the usage, so it ends by itself when the limit is raised, the day turns (local
midnight) or running work ends; whoever made that happen wakes a runner (``limits_updated`` and
job events, the queue watcher's timer, the reaper's sweep).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Integer, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lazyaf.cards.models import Card
from lazyaf.db.base import UTCDateTime
from lazyaf.jobs import service as job_service
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.limits import service as limits_service
from lazyaf.limits.policy import Hold, Policy, Snapshot
from lazyaf.limits.service import Queued
from lazyaf.orchestration import attempts, runs
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

HoldCheck = Callable[[AsyncSession, Settings, Job], Awaitable[str | None]]
"""An extra reason to hold a queued attempt (e.g. a repo's ``conflict_policy: hold``): a sentence
naming what it waits for, or None."""

ADVISORY_LOCK = 0x6C617A79_6166
"""PostgreSQL advisory lock key the claims' decisions take turns on."""
FIRST_BATCH = 16
RETRIES = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the decision says of one queued attempt: held (``hold``), failing (``fail``: over its
    card's budget) or free to start (neither)."""

    queued: Queued
    hold: Hold | None = None
    fail: Hold | None = None

    @property
    def free(self) -> bool:
        return self.hold is None and self.fail is None


class Dispatcher:
    """The decision, with its registry of hold checks (module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.holds: list[HoldCheck] = []

    # --- the claim ---------------------------------------------------------------------------------

    async def claim(
        self, *, session: AsyncSession, runner_id: uuid.UUID
    ) -> tuple[Job, Card, Repo, str] | None:
        """Give the runner the first queued attempt the limits and hold checks let start, if any;
        attempts over their card's budget on the way fail with the reason."""
        if job_service.dialect(session) == "postgresql":
            await session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK)))
        for _ in range(RETRIES):
            policy = Policy(await limits_service.snapshot(session))
            if policy.global_hold() is not None:
                return None
            chosen = await self._first(session, policy)
            if chosen is None:
                return None
            conditions, params = guard(policy, chosen.repo_id)
            claimed = await attempts.claim(
                session=session,
                settings=self.settings,
                runner_id=runner_id,
                job_id=chosen.job_id,
                guard=conditions,
                guard_params=params,
            )
            if claimed is not None:
                return claimed
            # Another claim took it, or the last slot, first: decide again on fresh counts.
        return None

    async def _first(self, session: AsyncSession, policy: Policy) -> Queued | None:
        """The first attempt in dispatch order that may start (failing those over budget)."""
        snap = policy.snapshot
        # Repos held as a whole are left out by the query; others found held on the way, skipped.
        blocked = {repo_id for repo_id in {*snap.repos, *snap.repo_limits} if policy.repo_hold(repo_id)}
        skipped: set[uuid.UUID] = set()
        offset, size = 0, FIRST_BATCH
        while True:
            batch = await limits_service.queued(
                session, self.settings.queue_aging_s, offset=offset, limit=size, exclude=blocked
            )
            failed = 0
            for queued in batch:
                if queued.repo_id in skipped:
                    continue
                snap.repo_names.setdefault(queued.repo_id, queued.repo_name)
                hold, fail = policy.check(queued.repo_id, queued.card_cost)
                if hold is not None:
                    skipped.add(queued.repo_id)
                elif fail is not None:
                    await self._fail(session, queued, fail)
                    failed += 1
                elif await self._checked(session, queued) is None:
                    return queued
            if len(batch) < size:
                return None
            # Failed attempts left the queue: the next slice starts that much earlier.
            offset += len(batch) - failed
            size = min(size * 4, 1024)

    async def _fail(self, session: AsyncSession, queued: Queued, fail: Hold) -> None:
        job = await session.get(Job, queued.job_id)
        card = await session.get(Card, queued.card_id)
        assert job is not None
        log.info("job_over_budget", job_id=str(job.id), card_id=str(queued.card_id), reason=fail.message)
        await runs.end_attempt(
            session=session, job=job, card=card, status=JobStatus.FAILED, error=fail.message
        )

    async def _checked(self, session: AsyncSession, queued: Queued) -> Hold | None:
        """The first registered hold check's reason to hold ``queued``, as a Hold; None: none holds it."""
        if not self.holds:
            return None
        job = await session.get(Job, queued.job_id)
        if job is None:
            return None
        for check in self.holds:
            try:
                reason = await check(session, self.settings, job)
            except Exception:  # a broken check must not stop every dispatch
                log.exception("hold_check_failed", check=getattr(check, "__name__", repr(check)))
                continue
            if reason:
                return Hold("hold_check", "check", 0, 0, _saying(f"held: {reason}"), queued.repo_id)
        return None

    # --- the queue as the decision sees it ----------------------------------------------------------

    async def preview(
        self, session: AsyncSession, *, limit: int | None = None, until: uuid.UUID | None = None
    ) -> tuple[list[Verdict], Snapshot]:
        """The first ``limit`` queued attempts (all: None) in dispatch order, each with its verdict,
        up to the attempt ``until`` when given; an attempt free to start counts as running for
        those behind it. Writes nothing."""
        snap = await limits_service.snapshot(session)
        policy = Policy(snap).copy()  # take() counts on the copy; the snapshot stays today's usage
        rows = await limits_service.queued(session, self.settings.queue_aging_s, limit=limit)
        if until is not None:
            rows = rows[: next((i + 1 for i, q in enumerate(rows) if q.job_id == until), len(rows))]
        if self.holds and rows:
            # One query loads the rows the checks are given (session.get then finds them in the session).
            ids = [q.job_id for q in rows]
            for start in range(0, len(ids), 500):
                (await session.scalars(select(Job).where(Job.id.in_(ids[start : start + 500])))).all()
        verdicts = []
        for queued in rows:
            snap.repo_names.setdefault(queued.repo_id, queued.repo_name)
            hold, fail = policy.check(queued.repo_id, queued.card_cost)
            if hold is None and fail is None:
                hold = await self._checked(session, queued)
            if hold is None and fail is None:
                policy.take(queued.repo_id)
            verdicts.append(Verdict(queued, hold, fail))
            if queued.job_id == until:
                break
        return verdicts, snap


def _saying(sentence: str) -> Callable[[], str]:
    return lambda: sentence


@cache
def _guards() -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
    """The counts a claim re-checks as it writes (values bound at execution; built once)."""
    job, card = aliased(Job), aliased(Card)  # other rows than the one the UPDATE writes
    day = bindparam("g_day", type_=UTCDateTime())
    count = select(func.count()).select_from(job)
    in_repo = count.join(card, card.id == job.card_id).where(
        card.repo_id == bindparam("g_repo", type_=Uuid())
    )
    return (
        count.where(job.status == JobStatus.RUNNING).scalar_subquery()
        < bindparam("g_running", type_=Integer),
        count.where(job.started_at >= day).scalar_subquery() < bindparam("g_runs", type_=Integer),
        in_repo.where(job.status == JobStatus.RUNNING).scalar_subquery()
        < bindparam("g_repo_running", type_=Integer),
        in_repo.where(job.started_at >= day).scalar_subquery() < bindparam("g_repo_runs", type_=Integer),
    )


def guard(policy: Policy, repo_id: uuid.UUID) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
    """The counted limits a claim of a job of ``repo_id`` must still be under as it is written:
    conditions for ``attempts.claim``'s UPDATE, and their values."""
    snap, limits = policy.snapshot, policy.snapshot.limits
    rule = policy.effective(repo_id)
    running, runs, repo_running, repo_runs = _guards()
    conditions: list[ColumnElement[bool]] = []
    params: dict[str, Any] = {"g_day": snap.day_start, "g_repo": repo_id}
    for condition, key, value in (
        (running, "g_running", limits.max_running),
        (runs, "g_runs", limits.daily_agent_runs),
        (repo_running, "g_repo_running", rule.max_running),
        (repo_runs, "g_repo_runs", rule.daily_agent_runs),
    ):
        if value is not None:
            conditions.append(condition)
            params[key] = value
    return conditions, params
