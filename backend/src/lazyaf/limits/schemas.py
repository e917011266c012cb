"""Request and response shapes for /api/limits, /api/repos/{id}/limits and /api/queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from lazyaf.jobs.models import JobKind
from lazyaf.jobs.schemas import WaitingReason
from lazyaf.limits.policy import LIMIT_KEYS, REPO_KEYS

Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
Usd = Annotated[float, Field(strict=True, ge=0, le=1_000_000_000, allow_inf_nan=False)]
Seconds = Annotated[int, Field(strict=True, ge=0, le=30 * 86400)]
Streak = Annotated[int, Field(strict=True, ge=1, le=10_000)]

_DESCRIPTIONS = {
    "max_running": "Attempts running at once, all repos together.",
    "max_running_per_repo": "Attempts running at once in any one repo (a repo's own max_running replaces "
    "it).",
    "daily_usd": "What agents may cost since local midnight (USD), all repos together.",
    "daily_agent_runs": "Agent runs that may start since local midnight, all repos together.",
    "per_card_usd": "What one card's agents may cost in all (USD); past it, its next step fails.",
    "cooldown_s": "Seconds a repo pauses after failure_cooldown_after failed agent runs in a row.",
    "failure_cooldown_after": "Failed agent runs in a row after which a repo pauses for cooldown_s.",
}
_REPO_DESCRIPTIONS = {
    **_DESCRIPTIONS,
    "max_running": "Attempts of this repo running at once (replaces the global max_running_per_repo).",
    "daily_usd": "This repo's own budget since local midnight (USD), besides the global daily_usd.",
    "daily_agent_runs": "Agent runs of this repo since local midnight, besides the global daily_agent_runs.",
    "per_card_usd": "What one card of this repo may cost (replaces the global per_card_usd).",
    "cooldown_s": "Replaces the global cooldown_s for this repo.",
    "failure_cooldown_after": "Replaces the global failure_cooldown_after for this repo.",
}


def _check_keys(data: Any, allowed: tuple[str, ...], scope: str) -> Any:
    """Refuse a key that is not a limit with a sentence naming the ones there are."""
    if not isinstance(data, dict):
        return data
    for key in data:
        if key in allowed:
            continue
        if key == "repo" and scope == "global":
            raise PydanticCustomError(
                "unknown_limit",
                "'repo' is not a limit: set a repo's own limits with PUT /api/repos/{id}/limits",
            )
        if key == "max_running_per_repo":
            raise PydanticCustomError(
                "unknown_limit",
                "max_running_per_repo is a global limit; a repo's own cap on running attempts is max_running",
            )
        raise PydanticCustomError(
            "unknown_limit",
            "Unknown limit {key}: the limits are {names} (null: no limit)",
            {"key": repr(str(key)[:60]), "names": ", ".join(allowed)},
        )
    return data


class LimitsUpdate(BaseModel):
    """Any subset of the global limits; a key set to null removes that limit, a key left out stays."""

    model_config = ConfigDict(extra="forbid")

    max_running: Count | None = Field(None, description=_DESCRIPTIONS["max_running"])
    max_running_per_repo: Count | None = Field(None, description=_DESCRIPTIONS["max_running_per_repo"])
    daily_usd: Usd | None = Field(None, description=_DESCRIPTIONS["daily_usd"])
    daily_agent_runs: Count | None = Field(None, description=_DESCRIPTIONS["daily_agent_runs"])
    per_card_usd: Usd | None = Field(None, description=_DESCRIPTIONS["per_card_usd"])
    cooldown_s: Seconds | None = Field(None, description=_DESCRIPTIONS["cooldown_s"])
    failure_cooldown_after: Streak | None = Field(None, description=_DESCRIPTIONS["failure_cooldown_after"])

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        return _check_keys(data, LIMIT_KEYS, "global")

    def changes(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.model_fields_set}


class RepoLimitsUpdate(BaseModel):
    """Any subset of a repo's own limits; a key set to null removes it (the global value applies)."""

    model_config = ConfigDict(extra="forbid")

    max_running: Count | None = Field(None, description=_REPO_DESCRIPTIONS["max_running"])
    daily_usd: Usd | None = Field(None, description=_REPO_DESCRIPTIONS["daily_usd"])
    daily_agent_runs: Count | None = Field(None, description=_REPO_DESCRIPTIONS["daily_agent_runs"])
    per_card_usd: Usd | None = Field(None, description=_REPO_DESCRIPTIONS["per_card_usd"])
    cooldown_s: Seconds | None = Field(None, description=_REPO_DESCRIPTIONS["cooldown_s"])
    failure_cooldown_after: Streak | None = Field(
        None, description=_REPO_DESCRIPTIONS["failure_cooldown_after"]
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        return _check_keys(data, REPO_KEYS, "repo")

    def changes(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.model_fields_set}


class LimitValues(BaseModel):
    """The global limits (null: no limit)."""

    max_running: int | None
    max_running_per_repo: int | None
    daily_usd: float | None
    daily_agent_runs: int | None
    per_card_usd: float | None
    cooldown_s: int | None
    failure_cooldown_after: int | None


class RepoLimitValues(BaseModel):
    """A repo's own limits (null: none of its own)."""

    max_running: int | None
    daily_usd: float | None
    daily_agent_runs: int | None
    per_card_usd: float | None
    cooldown_s: int | None
    failure_cooldown_after: int | None


class EffectiveLimits(RepoLimitValues):
    """What a repo is held to: its own limits, the global defaults where it has none."""

    max_running_key: str = Field(
        description="Which limit max_running is: the repo's own max_running or the global "
        "max_running_per_repo."
    )


class UsageRead(BaseModel):
    """What runs and was spent today (since local midnight)."""

    spent_usd: float = Field(description="Agent runs' reported cost, by the day they ended.")
    agent_runs: int = Field(description="Agent runs started today.")
    input_tokens: int
    output_tokens: int
    running: int = Field(description="Attempts running now.")


class RepoUsageRead(UsageRead):
    failure_streak: int = Field(
        description="Failed agent runs in a row (counted while a cooldown could apply)."
    )
    paused_until: datetime | None = Field(description="Set while the repo pauses after failures in a row.")


class RepoLimitsRead(BaseModel):
    repo_id: uuid.UUID
    repo_name: str
    limits: RepoLimitValues
    effective: EffectiveLimits
    usage: RepoUsageRead


class LimitsRead(BaseModel):
    """The global limits and today's usage against them; each repo with limits of its own or work today."""

    limits: LimitValues
    usage: UsageRead
    day_started_at: datetime = Field(description="The local midnight that began today.")
    resets_at: datetime = Field(description="The next local midnight: the daily limits start again.")
    repos: list[RepoLimitsRead]


class QueueEntry(BaseModel):
    """One queued attempt, where it stands and why it waits."""

    position: int = Field(description="1 is next in dispatch order.")
    job_id: uuid.UUID
    card_id: uuid.UUID
    card_title: str
    repo_id: uuid.UUID
    repo_name: str
    kind: JobKind
    step_id: uuid.UUID | None
    priority: int
    effective_priority: float = Field(description="Its priority plus one per queue_aging_s waited (aging).")
    queued_at: datetime
    waited_s: float
    held: bool = Field(description="A limit or a hold check holds it (reason.code held or over_budget).")
    reason: WaitingReason


class PriorityDepth(BaseModel):
    priority: int
    queued: int
    held: int


class QueueStats(BaseModel):
    queued: int = Field(description="Attempts queued (held ones included).")
    held: int
    running: int
    by_priority: list[PriorityDepth] = Field(description="Depth per priority, highest first.")
    oldest_queued_at: datetime | None
    oldest_wait_s: float | None


class QueueRead(BaseModel):
    """The queue in dispatch order (filtered by repo when asked), and its stats (of the whole queue)."""

    jobs: list[QueueEntry]
    total: int = Field(description="Entries matching the filter, before the limit.")
    aging_s: float = Field(description="Seconds of waiting that count as one priority level (0: no aging).")
    stats: QueueStats
