"""The answer of GET /api/metrics: how well the agents and the reviews did over a period."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field


class Spread(BaseModel):
    """A distribution of per-card figures: how many, and its middle and its 90th percentile
    (linear interpolation between the nearest ranks, as PostgreSQL's ``percentile_cont``)."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


class AttemptsBucket(BaseModel):
    attempts: int = Field(description="Agent passes a card had (cancelled ones do not count).")
    cards: int


class CardsMetrics(BaseModel):
    started: int = Field(description="Cards whose first agent attempt was queued in the period.")
    settled: int = Field(
        description="Of those, the cards with at least one finished attempt (completed or failed): "
        "the base of the success rates and of attempts per card."
    )
    done: int = Field(description="Cards approved (merged, or approved as a pull request) in the period.")
    first_time_success_rate: float | None = Field(
        description="Share of settled cards whose first attempt succeeded (0..1); null without any."
    )
    success_rate_after_retries: float | None = Field(
        description="Share of settled cards with a successful attempt so far, retries, fixes and "
        "resolves included (0..1); null without any."
    )
    attempts_per_card: Spread = Field(description="Attempts of each settled card.")
    attempts_histogram: list[AttemptsBucket] = Field(description="Settled cards by their number of attempts.")


class DurationsMetrics(BaseModel):
    time_to_review_s: Spread = Field(
        description="Seconds from a card's first start to its first arrival in review, for cards "
        "that first reached review in the period."
    )
    review_to_merge_s: Spread = Field(
        description="Seconds from a card's first arrival in review to its approval, for cards done "
        "in the period (review rounds included)."
    )


class CostMetrics(BaseModel):
    total_usd: float = Field(
        description="What the agents reported spending on attempts that ended in the period."
    )
    input_tokens: int
    output_tokens: int
    attempts: int = Field(description="Attempts that ended in the period (cancelled ones not counted).")
    per_card_usd: Spread = Field(description="Spend of each card with an attempt that ended in the period.")
    per_card_tokens: Spread = Field(description="Tokens (input + output) of each of those cards.")


class DayMetrics(BaseModel):
    day: date = Field(description="A calendar day of the answer's time zone.")
    cards_done: int
    attempts: int = Field(description="Attempts that ended that day (cancelled ones not counted).")
    failed_attempts: int
    cost_usd: float
    input_tokens: int
    output_tokens: int


class CardCost(BaseModel):
    card_id: uuid.UUID
    title: str
    status: str
    attempts: int
    cost_usd: float
    input_tokens: int
    output_tokens: int


class FailureReason(BaseModel):
    reason: str = Field(
        description="A stable key: runner_lost, timeout, verification:<check>, other:<text>, …"
    )
    label: str = Field(description="The reason in a few words, for people.")
    count: int


class FailureMetrics(BaseModel):
    total: int = Field(description="Failed attempts that ended in the period.")
    reasons: list[FailureReason] = Field(description="By count, most first.")


class ConflictMetrics(BaseModel):
    met_at_merge: int = Field(description="Approvals refused in the period because the branch conflicted.")
    cards_met_at_merge: int = Field(description="Cards those refusals were for.")
    predicted: int | None = Field(
        description="Conflicts predicted in the period between active branches; null while this "
        "server does not predict conflicts."
    )
    predicted_then_met: int | None = Field(
        description="Cards that met a conflict at merge after one had been predicted for them; null "
        "while this server does not predict conflicts."
    )


class LearningMetrics(BaseModel):
    used: int | None = Field(
        description="Times accepted learnings were put into an agent's prompt in the period; null "
        "while this server keeps no learnings."
    )


class MetricsRead(BaseModel):
    repo_id: uuid.UUID | None = Field(description="The repo measured; null for all repos.")
    days: int
    timezone: str = Field(description="The time zone whose days these are.")
    since: datetime = Field(description="Midnight starting the first day (UTC).")
    until: datetime = Field(description="When this was computed (UTC).")
    cards: CardsMetrics
    durations: DurationsMetrics
    cost: CostMetrics
    per_day: list[DayMetrics] = Field(description="One entry per day of the period, oldest first.")
    costliest_cards: list[CardCost] = Field(description="Up to 10 cards that cost most in the period.")
    failures: FailureMetrics
    conflicts: ConflictMetrics
    learnings: LearningMetrics
