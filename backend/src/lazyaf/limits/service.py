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
from typing import Any, TypeVarTuple, Unpack

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.jobs import service as job_service
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.limits import schemas
from lazyaf.limits.models import GLOBAL, LimitSet
from lazyaf.limits.policy import LIMIT_KEYS, REPO_KEYS, Limits, Snapshot, Tally, effective, paused_until
from lazyaf.repos.models import Repo

ENDED = (JobStatus.COMPLETED, JobStatus.FAILED)
Ts = TypeVarTuple("Ts")


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


def _by_repo(query: Select[Unpack[Ts]]) -> Select[Unpack[Ts]]:
    return query.select_from(Job).join(Card, Card.id == Job.card_id).group_by(Card.repo_id)


async def snapshot(session: AsyncSession, now: datetime | None = None) -> Snapshot:
    """The limits, and what runs and was spent today, overall and per repo."""
    now = now or clock()
    start, end = day_bounds(now)
    limits, repo_limits = await read_all(session)
    snap = Snapshot(now=now, day_start=start, day_end=end, limits=limits, repo_limits=repo_limits)
    running = _by_repo(select(Card.repo_id, func.count()).where(Job.status == JobStatus.RUNNING))
    for repo_id, count in (await session.execute(running)).all():
        snap.tally(repo_id).running = count
    spent = _by_repo(
        select(
            Card.repo_id,
            func.coalesce(func.sum(Job.cost_usd), 0.0),
            func.coalesce(func.sum(Job.input_tokens), 0),
            func.coalesce(func.sum(Job.output_tokens), 0),
        ).where(Job.completed_at >= start)
    )
    for repo_id, usd, tokens_in, tokens_out in (await session.execute(spent)).all():
        tally = snap.tally(repo_id)
        tally.spent_usd = float(usd or 0.0)
        tally.input_tokens, tally.output_tokens = int(tokens_in or 0), int(tokens_out or 0)
    runs = _by_repo(select(Card.repo_id, func.count()).where(Job.started_at >= start))
    for repo_id, count in (await session.execute(runs)).all():
        snap.tally(repo_id).agent_runs = count
    await _failure_streaks(session, snap)
    for tally in snap.repos.values():
        total = snap.total
        total.running += tally.running
        total.spent_usd += tally.spent_usd
        total.agent_runs += tally.agent_runs
        total.input_tokens += tally.input_tokens
        total.output_tokens += tally.output_tokens
    snap.repo_names = {r[0]: r[1] for r in (await session.execute(select(Repo.id, Repo.name))).all()}
    return snap


def _ran() -> tuple[ColumnElement[bool], ...]:
    """Agent runs that ran and ended (not cancelled, not failed before they started)."""
    return (Job.status.in_(ENDED), Job.started_at.is_not(None), Job.completed_at.is_not(None))


async def _failure_streaks(session: AsyncSession, snap: Snapshot) -> None:
    """Fill in the failure streak of each repo whose cooldown rule could apply now: only repos whose
    latest agent run failed within their cooldown are read further."""
    rules: dict[uuid.UUID | None, tuple[int, int]] = {}
    if snap.limits.failure_cooldown_after and snap.limits.cooldown_s:
        rules[None] = (snap.limits.failure_cooldown_after, snap.limits.cooldown_s)
    for repo_id, own in snap.repo_limits.items():
        rule = effective(snap.limits, own)
        if rule.failure_cooldown_after and rule.cooldown_s:
            rules[repo_id] = (rule.failure_cooldown_after, rule.cooldown_s)
    if not rules:
        return
    since = snap.now - timedelta(seconds=max(cooldown for _, cooldown in rules.values()))
    recent = (
        select(Card.repo_id, Job.status, Job.completed_at)
        .join(Card, Card.id == Job.card_id)
        .where(Job.completed_at >= since, *_ran())
        .order_by(Job.completed_at.desc())
    )
    latest: dict[uuid.UUID, tuple[JobStatus, datetime]] = {}
    for repo_id, status, completed_at in (await session.execute(recent)).all():
        if completed_at is not None:
            latest.setdefault(repo_id, (status, completed_at))
    for repo_id, (status, completed_at) in latest.items():
        after, cooldown = rules.get(repo_id) or rules.get(None) or (0, 0)
        if status != JobStatus.FAILED or not after or completed_at + timedelta(seconds=cooldown) <= snap.now:
            continue
        last = (
            select(Job.status)
            .join(Card, Card.id == Job.card_id)
            .where(Card.repo_id == repo_id, *_ran())
            .order_by(Job.completed_at.desc())
            .limit(after)
        )
        statuses = list((await session.scalars(last)).all())
        streak = next((i for i, s in enumerate(statuses) if s != JobStatus.FAILED), len(statuses))
        tally = snap.tally(repo_id)
        tally.failure_streak, tally.last_failure_at = streak, completed_at


# --- the queue -------------------------------------------------------------------------------------


def dispatch_order(session: AsyncSession, aging_s: float) -> tuple[Any, ...]:
    """ORDER BY for the queue: priority, then age, with aging. Each ``aging_s`` seconds a job waits
    count as one priority level, which is ordering by queue time moved earlier by ``priority *
    aging_s``: a key that does not change as time passes (0: strict priority, then age)."""
    if aging_s <= 0:
        return (Job.priority.desc(), Job.queued_at, Job.id)
    if job_service.dialect(session) == "postgresql":
        seconds: Any = func.extract("epoch", Job.queued_at)
    else:  # SQLite: julianday() reads the stored text; days to seconds
        seconds = func.julianday(Job.queued_at) * 86400.0
    return (seconds - Job.priority * aging_s, Job.queued_at, Job.id)


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


def queued_query(session: AsyncSession, aging_s: float) -> Select[Unpack[tuple[Any, ...]]]:
    """Queued jobs in dispatch order, as ``Queued`` fields."""
    return (
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
        )
        .join(Card, Card.id == Job.card_id)
        .where(Job.status == JobStatus.QUEUED)
        .order_by(*dispatch_order(session, aging_s))
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
    query = queued_query(session, aging_s)
    if exclude:
        query = query.where(Card.repo_id.not_in(exclude))
    query = query.offset(offset).limit(limit)
    return [Queued(*row) for row in (await session.execute(query)).all()]


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
