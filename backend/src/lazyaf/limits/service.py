"""Limits in the database: read and write them, and read what is running and spent today
(``snapshot``, the one read the scheduler's decision starts from), and the queue in dispatch order.

"Today" is since the server's local midnight. Spend is each agent run's reported cost, counted on
the day the run ended (``job.completed_at``); agent runs are counted on the day they started
(``job.started_at``); both columns are indexed. The failure streak of a repo counts its agent runs
that ran and ended (completed or failed; cancelled ones are skipped), the latest first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.db.base import UTCDateTime
from lazyaf.jobs import service as job_service
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.limits import schemas
from lazyaf.limits.models import GLOBAL, LimitSet
from lazyaf.limits.policy import LIMIT_KEYS, REPO_KEYS, Limits, Snapshot, Tally, effective, paused_until
from lazyaf.repos.models import Repo

ENDED = (JobStatus.COMPLETED, JobStatus.FAILED)


def clock() -> datetime:
    """Now, in UTC (tests replace it)."""
    return datetime.now(UTC)


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The local midnight that began ``now``'s day and the next one, both UTC-aware."""
    local = now.astimezone()
    start = datetime.combine(local.date(), time(), tzinfo=local.tzinfo)
    # The next midnight by the calendar, in its own UTC offset (a DST change moves it by an hour).
    end = datetime.combine(local.date() + timedelta(days=1), time()).astimezone()
    return start.astimezone(UTC), end.astimezone(UTC)


# --- the limits ------------------------------------------------------------------------------------


def as_limits(row: LimitSet | None) -> Limits:
    if row is None:
        return Limits()
    return Limits(**{key: getattr(row, key) for key in LIMIT_KEYS})


def scope_of(repo_id: uuid.UUID | None) -> str:
    return GLOBAL if repo_id is None else repo_id.hex


async def read_all(session: AsyncSession) -> tuple[Limits, dict[uuid.UUID, Limits]]:
    """The global limits and each repo's own."""
    rows = (await session.scalars(select(LimitSet))).all()
    found = Limits()
    repos: dict[uuid.UUID, Limits] = {}
    for row in rows:
        if row.repo_id is None:
            found = as_limits(row)
        else:
            repos[row.repo_id] = as_limits(row)
    return found, repos


async def read(session: AsyncSession, repo_id: uuid.UUID | None = None) -> Limits:
    """The limits of one scope (the global ones, or a repo's own)."""
    return as_limits(await session.get(LimitSet, scope_of(repo_id)))


async def write(session: AsyncSession, values: dict[str, Any], repo_id: uuid.UUID | None = None) -> Limits:
    """Set the given limits of one scope (None: no limit); the others stay as they are."""
    scope = scope_of(repo_id)
    row = await session.get(LimitSet, scope)
    if row is None:
        row = LimitSet(scope=scope, repo_id=repo_id)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    await session.flush()
    return as_limits(row)


# --- usage -----------------------------------------------------------------------------------------


# The scheduler reads these for every claim: built once (the values are bound at execution), as
# building a statement costs more than running it.
def _moment(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=UTCDateTime())


@cache
def _limits_query() -> Select[LimitSet, str]:
    return select(LimitSet, Repo.name).outerjoin(Repo, Repo.id == LimitSet.repo_id)


@cache
def _usage_query() -> Select[*tuple[Any, ...]]:
    start, since = _moment("start"), _moment("since")
    ran, today = and_(*_ran()), Job.completed_at >= start
    return (
        select(
            Card.repo_id,
            Repo.name,
            func.count().filter(Job.status == JobStatus.RUNNING),
            func.count().filter(Job.started_at >= start),
            func.coalesce(func.sum(Job.cost_usd).filter(today), 0.0),
            func.coalesce(func.sum(Job.input_tokens).filter(today), 0),
            func.coalesce(func.sum(Job.output_tokens).filter(today), 0),
            func.max(Job.completed_at).filter(ran, Job.status == JobStatus.FAILED),
            func.max(Job.completed_at).filter(ran, Job.status == JobStatus.COMPLETED),
        )
        .select_from(Job)
        .join(Card, Card.id == Job.card_id)
        .join(Repo, Repo.id == Card.repo_id)
        .where(or_(Job.status == JobStatus.RUNNING, Job.started_at >= start, Job.completed_at >= since))
        .group_by(Card.repo_id, Repo.name)
    )


async def snapshot(session: AsyncSession, now: datetime | None = None) -> Snapshot:
    """The limits, and what runs and was spent today, overall and per repo: two queries (three or
    four while a repo's failures in a row could pause it)."""
    now = now or clock()
    start, end = day_bounds(now)
    snap = Snapshot(now=now, day_start=start, day_end=end)
    for row, name in (await session.execute(_limits_query())).all():
        if row.repo_id is None:
            snap.limits = as_limits(row)
        else:
            snap.repo_limits[row.repo_id] = as_limits(row)
            snap.repo_names[row.repo_id] = name
    rules = _cooldown_rules(snap)
    # Far enough back for today's counts and for the latest runs any cooldown rule looks at.
    since = min(start, now - timedelta(seconds=max((c for _, c in rules.values()), default=0)))
    usage = await session.execute(_usage_query(), {"start": start, "since": since})
    paused: dict[uuid.UUID, datetime] = {}
    for repo_id, name, running, runs, usd, tokens_in, tokens_out, failed, succeeded in usage.all():
        snap.repo_names[repo_id] = name
        tally = snap.tally(repo_id)
        tally.running, tally.agent_runs = int(running or 0), int(runs or 0)
        tally.spent_usd = float(usd or 0.0)
        tally.input_tokens, tally.output_tokens = int(tokens_in or 0), int(tokens_out or 0)
        rule = rules.get(repo_id) or rules.get(None)
        if rule and failed is not None and (succeeded is None or failed > succeeded):
            if failed + timedelta(seconds=rule[1]) > now:
                paused[repo_id] = failed
    if paused:
        await _failure_streaks(session, snap, paused, rules)
    total = snap.total
    for tally in snap.repos.values():
        total.running += tally.running
        total.spent_usd += tally.spent_usd
        total.agent_runs += tally.agent_runs
        total.input_tokens += tally.input_tokens
        total.output_tokens += tally.output_tokens
    return snap


def _ran() -> tuple[ColumnElement[bool], ...]:
    """Agent runs that ran and ended (not cancelled, not failed before they started)."""
    return (Job.status.in_(ENDED), Job.started_at.is_not(None), Job.completed_at.is_not(None))


def _cooldown_rules(snap: Snapshot) -> dict[uuid.UUID | None, tuple[int, int]]:
    """(failures in a row, seconds of pause) by repo (None: the global rule), where both are set."""
    rules: dict[uuid.UUID | None, tuple[int, int]] = {}
    if snap.limits.failure_cooldown_after and snap.limits.cooldown_s:
        rules[None] = (snap.limits.failure_cooldown_after, snap.limits.cooldown_s)
    for repo_id, own in snap.repo_limits.items():
        rule = effective(snap.limits, own)
        if rule.failure_cooldown_after and rule.cooldown_s:
            rules[repo_id] = (rule.failure_cooldown_after, rule.cooldown_s)
        else:
            rules.pop(repo_id, None)
    return rules


def _runs_base() -> Select[uuid.UUID, JobStatus, bool]:
    return (
        select(Card.repo_id, Job.status, Job.started_at.is_not(None))
        .join(Card, Card.id == Job.card_id)
        .where(Job.completed_at.is_not(None))
        .order_by(Job.completed_at.desc())
    )


@cache
def _recent_runs_query() -> Select[uuid.UUID, JobStatus, bool]:
    repos: BindParameter[uuid.UUID] = bindparam("repos", expanding=True)
    return _runs_base().where(Card.repo_id.in_(repos)).limit(bindparam("limit", type_=Integer))


async def _failure_streaks(
    session: AsyncSession,
    snap: Snapshot,
    latest: dict[uuid.UUID, datetime],
    rules: dict[uuid.UUID | None, tuple[int, int]],
) -> None:
    """The failure streaks of the repos whose latest run failed within their cooldown: their last
    runs (as many as each one's rule counts), newest first, in one query (one more per repo in the
    rare case that was not enough)."""
    wanted = {repo_id: (rules.get(repo_id) or rules[None])[0] for repo_id in latest}
    found: dict[uuid.UUID, list[JobStatus]] = {repo_id: [] for repo_id in latest}
    # Cancelled runs are skipped in Python: the query then walks the completed_at order and stops early.
    limit = 2 * sum(wanted.values()) + 10
    rows = (await session.execute(_recent_runs_query(), {"repos": list(latest), "limit": limit})).all()
    short = len(rows) == limit
    for repo_id, status, started in rows:
        if status in ENDED and started and len(found[repo_id]) < wanted[repo_id]:
            found[repo_id].append(status)
    for repo_id, statuses in found.items():
        if short and len(statuses) < wanted[repo_id]:
            query = _runs_base().where(Card.repo_id == repo_id, *_ran()).limit(wanted[repo_id])
            statuses[:] = [status for _, status, _ in (await session.execute(query)).all()]
        streak = next((i for i, s in enumerate(statuses) if s != JobStatus.FAILED), len(statuses))
        tally = snap.tally(repo_id)
        tally.failure_streak, tally.last_failure_at = streak, latest[repo_id]


# --- the queue -------------------------------------------------------------------------------------


PRIORITIES = (0, 1, 2, 3)
"""A card's priorities (cards.schemas.Priority): the queue is read one priority at a time."""


def dispatch_order(dialect: str, aging: bool, columns: Any = Job) -> tuple[Any, ...]:
    """ORDER BY for the queue: priority, then age, with aging (the bound ``aging`` seconds). Each
    ``aging`` seconds a job waits count as one priority level, which is ordering by queue time
    moved earlier by ``priority * aging``: a key that does not change as time passes. Without
    aging: strict priority, then age. ``columns``: where queued_at, priority and id come from."""
    queued_at, priority, job_id = columns.queued_at, columns.priority, columns.id
    if not aging:
        return (priority.desc(), queued_at, job_id)
    if dialect == "postgresql":
        seconds: Any = func.extract("epoch", queued_at)
    else:  # SQLite: julianday() reads the stored text; days to seconds
        seconds = func.julianday(queued_at) * 86400.0
    return (seconds - priority * bindparam("aging", type_=Float), queued_at, job_id)


@dataclass(frozen=True, slots=True)
class Queued:
    """A queued job as the scheduler sees it (no ORM object: the queue may be long)."""

    job_id: uuid.UUID
    card_id: uuid.UUID
    repo_id: uuid.UUID
    priority: int
    queued_at: datetime
    kind: JobKind
    step_id: uuid.UUID | None
    card_title: str
    card_cost: float
    repo_name: str


@cache
def _queued_query(dialect: str, aging: bool, excluding: bool, limited: bool) -> Select[*tuple[Any, ...]]:
    base = (
        select(
            Job.id,
            Job.card_id,
            Card.repo_id,
            Job.priority,
            Job.queued_at,
            Job.kind,
            Job.step_id,
            Card.title,
            Card.total_cost_usd,
            Repo.name,
        )
        .join(Card, Card.id == Job.card_id)
        .join(Repo, Repo.id == Card.repo_id)
        .where(Job.status == JobStatus.QUEUED)
    )
    if excluding:
        base = base.where(Card.repo_id.not_in(bindparam("exclude", expanding=True)))
    if not (limited and aging):  # the whole queue, or strict priority (its index gives the order)
        query = base.order_by(*dispatch_order(dialect, aging))
        if limited:
            query = query.offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer))
        return query
    # A slice with aging: its jobs are among the oldest offset + limit of each priority, which the
    # index (status, priority, queued_at, id) reads without sorting the whole queue; only those
    # (and any job of an unexpected priority) are put in order.
    depth = bindparam("depth", type_=Integer)
    levels = [base.where(Job.priority == p).order_by(Job.queued_at, Job.id).limit(depth) for p in PRIORITIES]
    levels.append(base.where(Job.priority.not_in(PRIORITIES)))
    parts = [select(*level.subquery().c) for level in levels]
    merged = union_all(*parts).subquery()
    return (
        select(*merged.c)
        .order_by(*dispatch_order(dialect, aging, merged.c))
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )


async def queued(
    session: AsyncSession,
    aging_s: float,
    *,
    offset: int = 0,
    limit: int | None = None,
    exclude: set[uuid.UUID] | None = None,
) -> list[Queued]:
    """A slice of the queue in dispatch order (``exclude``: leave out these repos' jobs)."""
    query = _queued_query(job_service.dialect(session), aging_s > 0, bool(exclude), limit is not None)
    params = {
        "aging": aging_s,
        "exclude": list(exclude or ()),
        "offset": offset,
        "limit": limit,
        "depth": offset + (limit or 0),
    }
    return [Queued(*row) for row in (await session.execute(query, params)).all()]


# --- what the API shows ----------------------------------------------------------------------------


def _values(limits: Limits, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: getattr(limits, key) for key in keys}


def repo_view(snap: Snapshot, repo_id: uuid.UUID) -> schemas.RepoLimitsRead:
    """A repo's own limits, what it is held to, and its usage today, from a snapshot."""
    own = snap.repo_limits.get(repo_id, Limits())
    rule = effective(snap.limits, own)
    tally = snap.repos.get(repo_id) or Tally()
    pause = paused_until(tally, rule.failure_cooldown_after, rule.cooldown_s)
    return schemas.RepoLimitsRead(
        repo_id=repo_id,
        repo_name=snap.repo_names.get(repo_id, ""),
        limits=schemas.RepoLimitValues(**_values(own, REPO_KEYS)),
        effective=schemas.EffectiveLimits(
            **{key: getattr(rule, key) for key in REPO_KEYS}, max_running_key=rule.max_running_key
        ),
        usage=schemas.RepoUsageRead(
            **_usage(tally),
            failure_streak=tally.failure_streak,
            paused_until=pause if pause is not None and pause > snap.now else None,
        ),
    )


def _usage(tally: Tally) -> dict[str, Any]:
    return {
        "spent_usd": round(tally.spent_usd, 6),
        "agent_runs": tally.agent_runs,
        "input_tokens": tally.input_tokens,
        "output_tokens": tally.output_tokens,
        "running": tally.running,
    }


def overview(snap: Snapshot) -> schemas.LimitsRead:
    """The global limits and usage, and each repo that has limits of its own or work today."""
    shown = [
        repo_id
        for repo_id in snap.repo_names
        if repo_id in snap.repo_limits
        or (tally := snap.repos.get(repo_id)) is not None
        and (tally.running or tally.agent_runs or tally.spent_usd or tally.failure_streak)
    ]
    return schemas.LimitsRead(
        limits=schemas.LimitValues(**_values(snap.limits, LIMIT_KEYS)),
        usage=schemas.UsageRead(**_usage(snap.total)),
        day_started_at=snap.day_start,
        resets_at=snap.day_end,
        repos=[repo_view(snap, repo_id) for repo_id in sorted(shown, key=lambda r: snap.repo_names[r])],
    )
