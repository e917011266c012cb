"""Response shapes for a card's runs and their steps (``GET /api/cards/{id}/runs``, ``run_updated``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lazyaf.runs.models import RunStatus, StepStatus
from lazyaf.workflows.kinds import StepKind


class RunStepRead(BaseModel):
    """One step of a run: its status and times, its attempts' agent, session, cost and tokens, and
    the git progress it made (from refs: the card branch when it began and when it ended)."""

    id: uuid.UUID
    position: int = Field(description="Its place in the run, 0 first.")
    kind: StepKind
    status: StepStatus
    job_id: uuid.UUID | None = Field(description="Its current (last) attempt; None until it starts.")
    attempts: int = Field(0, description="Attempts (jobs) it has had, its current one included.")
    iteration: int | None = Field(None, description="A loop step's iteration, 1 first.")
    started_at: datetime | None
    finished_at: datetime | None
    agent: str | None = Field(description="The agent of its current attempt (None: a harness step).")
    session_id: str | None = Field(description="The agent session of its current attempt.")
    commits: int | None = Field(description="Commits it added to the card branch.")
    files_changed: int | None
    lines_added: int | None
    lines_removed: int | None
    cost_usd: float | None = Field(description="What its attempts cost, summed (USD).")
    input_tokens: int | None
    output_tokens: int | None
    error: str | None = Field(
        description="Why it failed (or, for a verify step sent back, the checks' output)."
    )
    verification: list[dict[str, Any]] | None = Field(
        None, description="A verify step's results: [{name, command, exit_code, duration_ms, output}]."
    )


class RunRead(BaseModel):
    """A run of a workflow on a card's branch, with its steps in order."""

    id: uuid.UUID
    card_id: uuid.UUID
    workflow: str
    status: RunStatus
    review_plan: bool = Field(description="It stops after its plan step for a person's review.")
    phase: str | None = Field(
        description="What it is doing, from its steps' state: the running step's kind, "
        "'plan_review' while it waits for the plan's review, None once it ended."
    )
    created_at: datetime
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    steps: list[RunStepRead]
