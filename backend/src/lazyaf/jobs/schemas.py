"""Response shapes for jobs and their log events."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    kind: JobKind = Field(description="Why this agent pass runs: build, iterate, retry, fix or resolve.")
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


class WaitingReason(BaseModel):
    """Why a queued job has not started yet."""

    code: WaitingCode
    message: str = Field(description="The reason as the board shows it.")
    ahead: int = Field(description="Queued jobs that go before this one.")
    busy: int = Field(description="Runners busy with a job.")
    runners: int = Field(description="Runners connected (busy or idle).")
    starting: list[str] = Field(description="Pool runners starting or waiting to restart, by name.")
    failed: list[str] = Field(description="Pool runners that kept crashing and were stopped, by name.")
