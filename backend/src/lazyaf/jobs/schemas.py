"""Response shapes for jobs and their log events."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lazyaf.jobs.models import JobKind, JobStatus


class StartBody(BaseModel):
    """How to start a card: which workflow, whether its plan waits for a review, and on with its
    branch or fresh from the default branch."""

    model_config = ConfigDict(extra="forbid")

    fresh: bool = Field(
        False,
        description="Start on a new branch made from the default branch; the card's old branch stays in git.",
    )
    workflow: str | None = Field(
        None,
        max_length=50,
        description="The workflow to run (GET /api/workflows?repo= lists them); None: the repo's default.",
    )
    review_plan: bool = Field(
        False,
        description="Stop after the plan step with the card in review showing the plan: approve goes on "
        "with the next step, request changes re-plans with the comments, reject ends the run.",
    )


class JobStats(BaseModel):
    commits: int | None
    files_changed: int | None
    lines_added: int | None
    lines_removed: int | None


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    card_id: uuid.UUID
    runner_id: uuid.UUID | None
    status: JobStatus
    kind: JobKind = Field(
        description="Why this pass runs: a step's first attempt (plan, build, test, iterate, loop), another "
        "attempt (retry, fix after failed checks, resolve, refine after a plan's review, followup: a "
        "person's prompt), or verify (a verify step: the repo's checks, no agent)."
    )
    step_id: uuid.UUID | None = Field(
        description="The run step this job is an attempt of (None: from before runs)."
    )
    agent: str
    branch: str
    base_branch: str
    attempt: int
    phase: str | None
    error: str | None
    exit_code: int | None
    base_sha: str | None
    head_sha: str | None
    commits: int | None
    files_changed: int | None
    lines_added: int | None
    lines_removed: int | None
    session_id: str | None
    cost_usd: float | None
    input_tokens: int | None
    output_tokens: int | None
    num_turns: int | None
    duration_ms: int | None
    cancel_requested: bool
    last_event_at: datetime | None = Field(
        None, description="When the agent last emitted an event (to about a second)."
    )
    stalled_at: datetime | None = Field(
        None,
        description="Set while the running agent has emitted nothing for its repo's stall_after_s (nothing "
        "is killed yet); cleared when its events resume.",
    )
    stop_reason: str | None = Field(
        None,
        description="Why LazyAF stopped this attempt itself (silent past kill_after_s, or past its "
        "wall-clock limit); the attempt fails with it.",
    )
    verification: list[dict[str, Any]] | None
    no_changes: bool = Field(
        description="A completed pass on an existing branch (iterate, retry, fix, resolve) whose agent "
        "left the branch where it was: the round changed nothing."
    )
    queued_at: datetime
    started_at: datetime | None
    agent_started_at: datetime | None
    completed_at: datetime | None


class JobEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    attempt: int
    seq: int
    kind: str
    data: dict[str, Any]
    created_at: datetime


class JobLogPage(BaseModel):
    events: list[JobEventRead]
    next_after: int
    job_status: JobStatus


class WaitingCode(StrEnum):
    NO_RUNNER = "no_runner"
    STARTING = "starting"
    RUNNER_FAILED = "runner_failed"
    BUSY = "busy"
    NEXT = "next"
    HELD = "held"
    OVER_BUDGET = "over_budget"


class HoldRead(BaseModel):
    """What holds a queued job back: a limit (with its figures) or a registered hold check."""

    limit: str = Field(
        description="max_running, max_running_per_repo, daily_usd, daily_agent_runs, "
        "failure_cooldown_after, per_card_usd (over_budget), or hold_check (a registered check)."
    )
    scope: Literal["global", "repo", "card", "check"] = Field(
        description="Whose limit: the whole server's, the job's repo's, its card's, or a hold check."
    )
    repo_id: uuid.UUID | None = Field(description="The repo whose limit it is (scope repo).")
    value: float = Field(description="Where the count or spend stands (running, spent, runs).")
    maximum: float = Field(description="The limit's value.")
    until: datetime | None = Field(
        description="When time alone releases it (local midnight; a repo's cooldown's end); else null."
    )


class WaitingReason(BaseModel):
    """Why a queued job has not started yet."""

    code: WaitingCode
    message: str = Field(description="The reason as the board shows it.")
    ahead: int = Field(description="Queued jobs that go before this one.")
    busy: int = Field(description="Runners busy with a job.")
    runners: int = Field(description="Runners connected (busy or idle).")
    starting: list[str] = Field(description="Pool runners starting or waiting to restart, by name.")
    failed: list[str] = Field(description="Pool runners that kept crashing and were stopped, by name.")
    hold: HoldRead | None = Field(
        None, description="held / over_budget: the limit (or hold check) that holds it, and its figures."
    )
