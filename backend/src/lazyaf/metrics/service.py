"""Metrics computed from what was recorded: attempts (``job``), card timelines (``card_activity``).

Every figure is read from the rows the orchestration core writes, never kept on the side, so it
cannot drift from what happened. The database aggregates: attempts per local day, per card and per
failure text; card timelines to one row per card (its first start, first review, approval). Only
those small results come back to Python, for percentiles (one code path on SQLite and PostgreSQL)
and the grouping of failure sentences (``reasons.py``).

What counts where:
- An attempt counts on the day it *ended* (``completed_at``), with the cost and tokens its runner
  reported; cancelled attempts add their cost but are not attempts of the success figures.
- The success rates and attempts per card are of the cards *started* in the period (first
  non-cancelled attempt queued in it) that have a finished attempt.
- Time to review: first start -> first arrival in review, for cards first reviewed in the period.
  Review to merge: first arrival in review -> approval, for cards approved in the period.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, Uuid, and_, case, column, func, inspect, select, table, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from lazyaf.cards.models import ActivityKind, Card, CardActivity, CardStatus
from lazyaf.db.base import UTCDateTime
from lazyaf.errors import NotFound
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.learnings.models import LearningUse
from lazyaf.metrics import reasons
from lazyaf.metrics.period import Period, as_date, make_period, parse_zone
from lazyaf.metrics.schemas import (
    AttemptsBucket,
    CardCost,
    CardsMetrics,
    ConflictMetrics,
    CostMetrics,
    DayMetrics,
    DurationsMetrics,
    FailureMetrics,
    FailureReason,
    LearningMetrics,
    MetricsRead,
    Spread,
)
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo

FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
SETTLED = (JobStatus.COMPLETED, JobStatus.FAILED)
COSTLIEST = 10
ERROR_HEAD = 300
"""Characters of a failure sentence the database groups by (the rest is the checks' output)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


async def compute(
    *, session: AsyncSession, repo: Repo | None, days: int, tz: str | None = None, now: datetime | None = None
) -> MetricsRead:
    """The metrics of ``repo`` (None: every repo) over the last ``days`` days of time zone ``tz``
    (an IANA name; None: the server's own)."""
    zone, zone_name = parse_zone(tz)
    span = make_period(days, zone, zone_name, now or utcnow())
    repo_id = repo.id if repo else None
    days_rows = await _attempts_per_day(session, span, repo_id)
    timeline = await _timelines(session, span, repo_id)
    card_costs = await _card_costs(session, span, repo_id)
    predicted = await predicted_conflicts(session, span, repo_id)
    met, cards_met = await _conflicts_met(session, span, repo_id)
    done_days = Counter(span.local_date(done) for _, _, done in timeline if done and _within(span, done))
    return MetricsRead(
        repo_id=repo_id,
        days=days,
        timezone=span.zone_name,
        since=span.since,
        until=span.until,
        cards=await _cards(session, span, repo_id, done=sum(done_days.values())),
        durations=_durations(span, timeline),
        cost=_cost(days_rows, card_costs),
        per_day=[
            DayMetrics(day=day, cards_done=done_days.get(day, 0), **days_rows.get(day, _NO_ATTEMPTS))
            for day in span.dates
        ],
        costliest_cards=_costliest(card_costs),
        failures=await _failures(session, span, repo_id),
        conflicts=ConflictMetrics(
            met_at_merge=met,
            cards_met_at_merge=cards_met,
            predicted=predicted[0] if predicted else None,
            predicted_then_met=predicted[1] if predicted else None,
        ),
        learnings=LearningMetrics(used=await learnings_used(session, span, repo_id)),
    )


async def find_repo(*, session: AsyncSession, ref: str) -> Repo:
    """The repo with this id or name (or a name it had before a rename); a 404 naming it otherwise."""
    try:
        repo_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        repo_id = await repo_service.find_by_name(session, ref)
    repo = await session.get(Repo, repo_id) if repo_id else None
    if repo is None:
        raise NotFound(
            f"No repo has the id or name '{ref}'; list repos with GET /api/repos, or leave repo out "
            "for every repo."
        )
    return repo


# --- the queries -------------------------------------------------------------------------------


def _of_repo(card_id: Any, repo_id: uuid.UUID | None) -> ColumnElement[bool]:
    """Rows of the repo's cards (all rows without a repo)."""
    if repo_id is None:
        return true()
    return card_id.in_(select(Card.id).where(Card.repo_id == repo_id))


def _ended_in(span: Period) -> ColumnElement[bool]:
    return and_(Job.completed_at >= span.since, Job.completed_at <= span.until, Job.status.in_(FINISHED))


def _within(span: Period, at: datetime) -> bool:
    return span.since <= at <= span.until


_NO_ATTEMPTS: dict[str, Any] = {
    "attempts": 0,
    "failed_attempts": 0,
    "cost_usd": 0.0,
    "input_tokens": 0,
    "output_tokens": 0,
}


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


async def _attempts_per_day(
    session: AsyncSession, span: Period, repo_id: uuid.UUID | None
) -> dict[date, dict[str, Any]]:
    """Attempts that ended each local day: how many, failed, cost and tokens."""
    # Grouped through a subquery: PostgreSQL wants GROUP BY to repeat the select's expression, and
    # the day's CASE carries bound parameters that would be numbered apart.
    ended = (
        select(
            span.local_date_sql(Job.completed_at).label("day"),
            Job.status,
            Job.cost_usd,
            Job.input_tokens,
            Job.output_tokens,
        )
        .where(_ended_in(span), _of_repo(Job.card_id, repo_id))
        .subquery()
    )
    query = select(
        ended.c.day,
        _count_if(ended.c.status.in_(SETTLED)),
        _count_if(ended.c.status == JobStatus.FAILED),
        func.sum(func.coalesce(ended.c.cost_usd, 0.0)),
        func.sum(func.coalesce(ended.c.input_tokens, 0)),
        func.sum(func.coalesce(ended.c.output_tokens, 0)),
    ).group_by(ended.c.day)
    return {
        as_date(day): {
            "attempts": int(attempts or 0),
            "failed_attempts": int(failed or 0),
            "cost_usd": float(cost or 0.0),
            "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
        }
        for day, attempts, failed, cost, tokens_in, tokens_out in (await session.execute(query)).all()
    }


async def _cards(
    session: AsyncSession, span: Period, repo_id: uuid.UUID | None, *, done: int
) -> CardsMetrics:
    """Cards started in the period: per number of attempts, how many, settled, first-time and
    eventual successes (aggregated twice in the database: per card, then per attempt count)."""
    rank = func.row_number().over(partition_by=Job.card_id, order_by=(Job.queued_at, Job.id))
    attempts = (
        select(Job.card_id, Job.status, Job.queued_at, rank.label("rank"))
        .where(Job.status != JobStatus.CANCELLED, _of_repo(Job.card_id, repo_id))
        .subquery()
    )
    first_queued = func.min(attempts.c.queued_at)
    per_card = (
        select(
            func.count().label("attempts"),
            case((_count_if(attempts.c.status.in_(SETTLED)) > 0, 1), else_=0).label("settled"),
            case((_count_if(attempts.c.status == JobStatus.COMPLETED) > 0, 1), else_=0).label("succeeded"),
            func.max(
                case(((attempts.c.rank == 1) & (attempts.c.status == JobStatus.COMPLETED), 1), else_=0)
            ).label("first_ok"),
        )
        .group_by(attempts.c.card_id)
        .having(and_(first_queued >= span.since, first_queued <= span.until))
        .subquery()
    )
    query = select(
        per_card.c.attempts,
        per_card.c.settled,
        func.count(),
        func.sum(per_card.c.first_ok),
        func.sum(per_card.c.succeeded),
    ).group_by(per_card.c.attempts, per_card.c.settled)
    started = settled = first_ok = succeeded = 0
    histogram: Counter[int] = Counter()
    for n, is_settled, cards, firsts, oks in (await session.execute(query)).all():
        started += cards
        if is_settled:
            settled += cards
            first_ok += int(firsts or 0)
            succeeded += int(oks or 0)
            histogram[int(n)] += cards
    return CardsMetrics(
        started=started,
        settled=settled,
        done=done,
        first_time_success_rate=first_ok / settled if settled else None,
        success_rate_after_retries=succeeded / settled if settled else None,
        attempts_per_card=spread([n for n, cards in histogram.items() for _ in range(cards)]),
        attempts_histogram=[AttemptsBucket(attempts=n, cards=histogram[n]) for n in sorted(histogram)],
    )


Timeline = tuple[datetime | None, datetime | None, datetime | None]


async def _timelines(session: AsyncSession, span: Period, repo_id: uuid.UUID | None) -> list[Timeline]:
    """(first start, first arrival in review, approval) of each card with one of them in the period."""
    kind, at = CardActivity.kind, CardActivity.created_at
    status = CardActivity.data["status"].as_string()
    started = (kind == ActivityKind.STATUS) & (status == CardStatus.IN_PROGRESS.value)
    reviewed = (kind == ActivityKind.STATUS) & (status == CardStatus.IN_REVIEW.value)
    done = (kind == ActivityKind.MERGED) | (
        (kind == ActivityKind.GITHUB) & (CardActivity.data["event"].as_string() == "approved")
    )
    kinds = kind.in_([ActivityKind.STATUS, ActivityKind.MERGED, ActivityKind.GITHUB])
    recent = select(CardActivity.card_id).where(
        kinds, at >= span.since, at <= span.until, _of_repo(CardActivity.card_id, repo_id)
    )
    query = (
        select(
            func.min(case((started, at))),
            func.min(case((reviewed, at))),
            func.min(case((done, at))),
        )
        .where(CardActivity.card_id.in_(recent), kinds, at <= span.until)
        .group_by(CardActivity.card_id)
    )
    return [(first, review, approved) for first, review, approved in (await session.execute(query)).all()]


def _durations(span: Period, timeline: Sequence[Timeline]) -> DurationsMetrics:
    to_review = [
        (review - first).total_seconds()
        for first, review, _ in timeline
        if first and review and first <= review and _within(span, review)
    ]
    to_merge = [
        (done - review).total_seconds()
        for _, review, done in timeline
        if review and done and review <= done and _within(span, done)
    ]
    return DurationsMetrics(time_to_review_s=spread(to_review), review_to_merge_s=spread(to_merge))


CardRow = tuple[uuid.UUID, str, str, int, float, int, int]
"""(card id, title, status, attempts, cost, input tokens, output tokens) of one card."""


async def _card_costs(session: AsyncSession, span: Period, repo_id: uuid.UUID | None) -> list[CardRow]:
    """Each card with an attempt that ended in the period: its attempts, spend and tokens then
    (plain rows: a year of cards is thousands, and only the costliest become models)."""
    query = (
        select(
            Card.id,
            Card.title,
            Card.status,
            _count_if(Job.status.in_(SETTLED)),
            func.sum(func.coalesce(Job.cost_usd, 0.0)),
            func.sum(func.coalesce(Job.input_tokens, 0)),
            func.sum(func.coalesce(Job.output_tokens, 0)),
        )
        .join(Job, Job.card_id == Card.id)
        .where(_ended_in(span), *([Card.repo_id == repo_id] if repo_id else []))
        .group_by(Card.id, Card.title, Card.status)
    )
    rows = (await session.execute(query)).all()
    return [
        (card_id, title, str(status), int(n or 0), float(cost or 0.0), int(ins or 0), int(outs or 0))
        for card_id, title, status, n, cost, ins, outs in rows
    ]


def _costliest(cards: Sequence[CardRow]) -> list[CardCost]:
    ranked = sorted(cards, key=lambda c: (-c[4], -(c[5] + c[6]), c[1]))[:COSTLIEST]
    return [
        CardCost(
            card_id=card_id,
            title=title,
            status=status,
            attempts=attempts,
            cost_usd=cost,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
        )
        for card_id, title, status, attempts, cost, tokens_in, tokens_out in ranked
    ]


def _cost(days: dict[date, dict[str, Any]], cards: Sequence[CardRow]) -> CostMetrics:
    return CostMetrics(
        total_usd=sum(d["cost_usd"] for d in days.values()),
        input_tokens=sum(d["input_tokens"] for d in days.values()),
        output_tokens=sum(d["output_tokens"] for d in days.values()),
        attempts=sum(c[3] for c in cards),
        per_card_usd=spread([c[4] for c in cards]),
        per_card_tokens=spread([float(c[5] + c[6]) for c in cards]),
    )


async def _failures(session: AsyncSession, span: Period, repo_id: uuid.UUID | None) -> FailureMetrics:
    """Failed attempts of the period by reason: the database groups equal sentence heads, Python
    groups those by reason (``reasons.classify``)."""
    failed = (
        select(func.substr(Job.error, 1, ERROR_HEAD).label("head"))
        .where(_ended_in(span), Job.status == JobStatus.FAILED, _of_repo(Job.card_id, repo_id))
        .subquery()
    )
    query = select(failed.c.head, func.count()).group_by(failed.c.head)
    counts: Counter[reasons.Reason] = Counter()
    for head, count in (await session.execute(query)).all():
        counts[reasons.classify(head)] += int(count)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].label))
    return FailureMetrics(
        total=sum(counts.values()),
        reasons=[FailureReason(reason=r.key, label=r.label, count=n) for r, n in ordered],
    )


def _refused_approval() -> ColumnElement[bool]:
    """A conflict entry written by approve (a runner's report of conflicts it left names its job)."""
    return and_(CardActivity.kind == ActivityKind.CONFLICT, CardActivity.data["job_id"].as_string().is_(None))


async def _conflicts_met(session: AsyncSession, span: Period, repo_id: uuid.UUID | None) -> tuple[int, int]:
    """Approvals refused for conflicts in the period, and the cards they were for."""
    query = select(func.count(), func.count(func.distinct(CardActivity.card_id))).where(
        _refused_approval(),
        CardActivity.created_at >= span.since,
        CardActivity.created_at <= span.until,
        _of_repo(CardActivity.card_id, repo_id),
    )
    met, cards = (await session.execute(query)).one()
    return int(met or 0), int(cards or 0)


# --- figures other parts of issue 15 record ------------------------------------------------------

PREDICTIONS = table(
    "conflict_prediction",
    column("card_id", Uuid()),
    column("repo_id", Uuid()),
    column("kind", String()),
    column("detected_at", UTCDateTime()),
)
"""The conflict predictions' table as this module reads it (lazyaf.conflicts keeps it: one row per
card and prediction, ``kind`` conflict or overlap, kept after it clears). Named here, not imported,
so metrics work on a database without it."""


async def predicted_conflicts(
    session: AsyncSession, span: Period, repo_id: uuid.UUID | None
) -> tuple[int, int] | None:
    """Cards with a conflict predicted in the period, and cards that met a conflict at merge in the
    period after one had been predicted for them; None on a server that does not predict conflicts
    (no ``conflict_prediction`` table)."""
    if not await session.run_sync(lambda s: inspect(s.connection()).has_table("conflict_prediction")):
        return None
    conflict = PREDICTIONS.c.kind == "conflict"
    in_repo = [PREDICTIONS.c.repo_id == repo_id] if repo_id else []
    predicted = select(func.count(func.distinct(PREDICTIONS.c.card_id))).where(
        conflict, PREDICTIONS.c.detected_at >= span.since, PREDICTIONS.c.detected_at <= span.until, *in_repo
    )
    foreseen = (
        select(PREDICTIONS.c.card_id)
        .where(
            conflict,
            PREDICTIONS.c.card_id == CardActivity.card_id,
            PREDICTIONS.c.detected_at <= CardActivity.created_at,
        )
        .exists()
    )
    then_met = select(func.count(func.distinct(CardActivity.card_id))).where(
        _refused_approval(),
        CardActivity.created_at >= span.since,
        CardActivity.created_at <= span.until,
        _of_repo(CardActivity.card_id, repo_id),
        foreseen,
    )
    return int(await session.scalar(predicted) or 0), int(await session.scalar(then_met) or 0)


async def learnings_used(session: AsyncSession, span: Period, repo_id: uuid.UUID | None) -> int | None:
    """Times accepted learnings went into an agent's prompt in the period (one ``learning_use`` row
    each), of the repo's learnings when ``repo_id`` is given."""
    query = select(func.count()).select_from(LearningUse).where(
        LearningUse.used_at >= span.since, LearningUse.used_at <= span.until
    )
    if repo_id is not None:
        query = query.where(LearningUse.repo_id == repo_id)
    return int(await session.scalar(query) or 0)


# --- statistics ----------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, interpolated between the nearest ranks (as
    PostgreSQL's percentile_cont and Python's statistics.quantiles(method="inclusive"))."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float]) -> Spread:
    if not values:
        return Spread(count=0, mean=None, median=None, p90=None, max=None)
    ordered = sorted(float(v) for v in values)
    return Spread(
        count=len(ordered),
        mean=sum(ordered) / len(ordered),
        median=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
        max=ordered[-1],
    )
