"""Budgets and limits, decided in memory from one snapshot of the limits and of what is spent and running.

The limits (``PUT /api/limits``; None is no limit):

* ``max_running``: attempts running at once, all repos together;
* ``max_running_per_repo``: attempts running at once in any one repo (a repo's own ``max_running``
  replaces it for that repo);
* ``daily_usd``: what agents may cost since local midnight, all repos together;
* ``daily_agent_runs``: agent runs (attempts) started since local midnight, all repos together;
* ``per_card_usd``: what one card's agents may cost in all (its ``total_cost_usd``);
* ``cooldown_s`` and ``failure_cooldown_after``: after that many failed agent runs in a row in a
  repo, the repo pauses for that many seconds (both are needed).

A repo's own limits (``PUT /api/repos/{id}/limits``) are the same keys but ``max_running_per_repo``.
``daily_usd`` and ``daily_agent_runs`` there are the repo's own budget, checked *besides* the
global one; the others *replace* the global value for that repo (``max_running`` replaces
``max_running_per_repo``). So a repo can be given a budget of its own, or more room per card.

A queued attempt that would go over a limit is *held* (it stays queued; ``Hold`` says which limit
and the figures: ``held: daily_usd 19.80 of 20.00``). Counts are "would exceed": an attempt is held
when the running count has reached its maximum, or when today's spend or runs have. An attempt whose
card has spent its ``per_card_usd`` does not start at all: it fails with that reason (``over_budget``).

``Policy`` walks the queue in dispatch order: ``check`` says whether a job is held, fails, or may
start; ``take`` counts a job that would start (a preview of the queue counts the jobs ahead of a
job as running: a job behind a repo's last free slot is held, not "next").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

LIMIT_KEYS = (
    "max_running",
    "max_running_per_repo",
    "daily_usd",
    "daily_agent_runs",
    "per_card_usd",
    "cooldown_s",
    "failure_cooldown_after",
)
"""Every limit, in the order the API lists them."""
REPO_KEYS = tuple(key for key in LIMIT_KEYS if key != "max_running_per_repo")
"""The limits a repo may have of its own."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one scope; None is no limit."""

    max_running: int | None = None
    max_running_per_repo: int | None = None
    daily_usd: float | None = None
    daily_agent_runs: int | None = None
    per_card_usd: float | None = None
    cooldown_s: int | None = None
    failure_cooldown_after: int | None = None


@dataclass(slots=True)
class Tally:
    """What one scope (everything, or a repo) runs and has spent today."""

    running: int = 0
    spent_usd: float = 0.0
    agent_runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    failure_streak: int = 0
    """Failed agent runs in a row, the latest first (counted up to the longest rule that needs it)."""
    last_failure_at: datetime | None = None


@dataclass(slots=True)
class Snapshot:
    """The limits and usage at ``now``, read in one go (``limits.service.snapshot``)."""

    now: datetime
    day_start: datetime
    """Local midnight that began today (UTC-aware)."""
    day_end: datetime
    """The next local midnight: daily holds end then."""
    limits: Limits = field(default_factory=Limits)
    repo_limits: dict[uuid.UUID, Limits] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    repos: dict[uuid.UUID, Tally] = field(default_factory=dict)
    repo_names: dict[uuid.UUID, str] = field(default_factory=dict)

    def tally(self, repo_id: uuid.UUID) -> Tally:
        found = self.repos.get(repo_id)
        if found is None:
            found = self.repos[repo_id] = Tally()
        return found


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a job may not start: the limit, its scope, the figures, and when time alone releases it.
    The sentence is written when asked for (``message``): the claim skips most holds unread."""

    limit: str
    scope: Literal["global", "repo", "card", "check"]
    value: float
    maximum: float
    describe: Callable[[], str] = field(compare=False, repr=False)
    repo_id: uuid.UUID | None = None
    until: datetime | None = None

    @property
    def message(self) -> str:
        return self.describe()


@dataclass(frozen=True, slots=True)
class Effective:
    """A repo's limits with the global defaults applied (what the repo is held to)."""

    max_running: int | None
    max_running_key: str
    """Which limit ``max_running`` is: the repo's own ``max_running`` or ``max_running_per_repo``."""
    daily_usd: float | None
    daily_agent_runs: int | None
    per_card_usd: float | None
    cooldown_s: int | None
    failure_cooldown_after: int | None


def effective(limits: Limits, own: Limits | None) -> Effective:
    own = own or Limits()
    cap, key = (
        (own.max_running, "max_running")
        if own.max_running is not None
        else (limits.max_running_per_repo, "max_running_per_repo")
    )
    return Effective(
        max_running=cap,
        max_running_key=key,
        daily_usd=own.daily_usd,
        daily_agent_runs=own.daily_agent_runs,
        per_card_usd=own.per_card_usd if own.per_card_usd is not None else limits.per_card_usd,
        cooldown_s=own.cooldown_s if own.cooldown_s is not None else limits.cooldown_s,
        failure_cooldown_after=(
            own.failure_cooldown_after
            if own.failure_cooldown_after is not None
            else limits.failure_cooldown_after
        ),
    )


def usd_pair(value: float, maximum: float) -> str:
    """``19.80 of 20.00``: cents, or four decimals when cents would hide the figures (small budgets)."""
    small = min((x for x in (value, maximum) if x > 0), default=1.0)
    digits = 2 if small >= 0.1 else 4
    return f"{value:.{digits}f} of {maximum:.{digits}f}"


def paused_until(tally: Tally, after: int | None, cooldown_s: int | None) -> datetime | None:
    """When a repo's failure cooldown ends, if its rule applies to its streak; else None."""
    if not after or not cooldown_s or tally.failure_streak < after or tally.last_failure_at is None:
        return None
    return tally.last_failure_at + timedelta(seconds=cooldown_s)


def _counted(
    key: str,
    scope: Literal["global", "repo"],
    value: int,
    maximum: int,
    where: str,
    repo_id: uuid.UUID | None = None,
    until: datetime | None = None,
) -> Hold:
    return Hold(
        key, scope, value, maximum, lambda: f"held: {key} {value} of {maximum}{where}", repo_id, until
    )


def _spent(
    key: str,
    scope: Literal["global", "repo"],
    value: float,
    maximum: float,
    where: str,
    repo_id: uuid.UUID | None = None,
    until: datetime | None = None,
) -> Hold:
    return Hold(
        key, scope, value, maximum, lambda: f"held: {key} {usd_pair(value, maximum)}{where}", repo_id, until
    )


class Policy:
    """Decides, job by job in dispatch order, from one ``Snapshot`` (which it counts on: ``take``)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._effective: dict[uuid.UUID, Effective] = {}

    def effective(self, repo_id: uuid.UUID) -> Effective:
        found = self._effective.get(repo_id)
        if found is None:
            snap = self.snapshot
            found = self._effective[repo_id] = effective(snap.limits, snap.repo_limits.get(repo_id))
        return found

    def global_hold(self) -> Hold | None:
        """A limit that holds every job, if one does."""
        snap, limits, total = self.snapshot, self.snapshot.limits, self.snapshot.total
        if limits.max_running is not None and total.running >= limits.max_running:
            return _counted("max_running", "global", total.running, limits.max_running, "")
        if limits.daily_usd is not None and total.spent_usd >= limits.daily_usd:
            return _spent("daily_usd", "global", total.spent_usd, limits.daily_usd, "", until=snap.day_end)
        if limits.daily_agent_runs is not None and total.agent_runs >= limits.daily_agent_runs:
            runs, most = total.agent_runs, limits.daily_agent_runs
            return _counted("daily_agent_runs", "global", runs, most, "", until=snap.day_end)
        return None

    def repo_hold(self, repo_id: uuid.UUID) -> Hold | None:
        """A limit that holds every job of the repo (beyond the global ones), if one does."""
        snap = self.snapshot
        rule = self.effective(repo_id)
        tally = snap.repos.get(repo_id) or Tally()
        where = f" in repo {snap.repo_names[repo_id]}" if repo_id in snap.repo_names else None
        until = paused_until(tally, rule.failure_cooldown_after, rule.cooldown_s)
        if until is not None and until > snap.now:
            streak, after, pause = tally.failure_streak, rule.failure_cooldown_after or 0, rule.cooldown_s
            place = where or self._where(repo_id)
            return Hold(
                "failure_cooldown_after",
                "repo",
                streak,
                after,
                lambda: (
                    f"held: failure_cooldown_after {streak} of {after} failed runs in a row{place}; "
                    f"paused for cooldown_s {pause} until {until.astimezone().strftime('%H:%M:%S')}"
                ),
                repo_id,
                until,
            )
        if rule.max_running is not None and tally.running >= rule.max_running:
            key, place = rule.max_running_key, where or self._where(repo_id)
            return _counted(key, "repo", tally.running, rule.max_running, place, repo_id)
        if rule.daily_usd is not None and tally.spent_usd >= rule.daily_usd:
            place = where or self._where(repo_id)
            return _spent("daily_usd", "repo", tally.spent_usd, rule.daily_usd, place, repo_id, snap.day_end)
        if rule.daily_agent_runs is not None and tally.agent_runs >= rule.daily_agent_runs:
            place, runs, most = where or self._where(repo_id), tally.agent_runs, rule.daily_agent_runs
            return _counted("daily_agent_runs", "repo", runs, most, place, repo_id, snap.day_end)
        return None

    def _where(self, repo_id: uuid.UUID) -> str:
        return f" in repo {self.snapshot.repo_names.get(repo_id, str(repo_id)[:8])}"

    def over_budget(self, repo_id: uuid.UUID, card_cost: float) -> Hold | None:
        """The card has spent its ``per_card_usd``: its attempt fails instead of starting."""
        budget = self.effective(repo_id).per_card_usd
        if budget is None or card_cost < budget:
            return None
        return Hold(
            "per_card_usd",
            "card",
            card_cost,
            budget,
            lambda: (
                f"over budget: per_card_usd {usd_pair(card_cost, budget)}: this card has spent its "
                "budget; raise per_card_usd (PUT /api/limits) and retry it"
            ),
            repo_id,
        )

    def check(self, repo_id: uuid.UUID, card_cost: float) -> tuple[Hold | None, Hold | None]:
        """(hold, failure) for a job of ``repo_id`` whose card has cost ``card_cost``: held by a
        limit, or failing (over its card's budget), or (None, None): it may start."""
        hold = self.global_hold() or self.repo_hold(repo_id)
        if hold is not None:
            return hold, None
        return None, self.over_budget(repo_id, card_cost)

    def take(self, repo_id: uuid.UUID) -> None:
        """Count a job of ``repo_id`` as started (the preview's jobs ahead; nothing is written)."""
        for tally in (self.snapshot.total, self.snapshot.tally(repo_id)):
            tally.running += 1
            tally.agent_runs += 1

    def copy(self) -> Policy:
        """A policy on a copy of the snapshot's tallies (``take`` changes them)."""
        snap = self.snapshot
        clone = replace(
            snap,
            total=replace(snap.total),
            repos={repo_id: replace(t) for repo_id, t in snap.repos.items()},
        )
        return Policy(clone)
