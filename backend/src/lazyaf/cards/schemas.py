"""Request and response shapes for cards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.cards.models import CardStatus
from lazyaf.jobs.schemas import WaitingReason
from lazyaf.validation import INT64_MAX, one_line, plain_text

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(one_line)
]
Description = Annotated[str, StringConstraints(max_length=50_000), AfterValidator(plain_text)]
Priority = Annotated[int, Field(ge=0, le=3, description="0 low, 1 normal, 2 high, 3 urgent.")]


class CardCreate(BaseModel):
    """A new card, added at the bottom of To Do."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    priority: Priority = 1
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3


class CardUpdate(BaseModel):
    """Edit fields, or move the card: `status` picks the column, `position` the place in it (0 = top)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    priority: Priority | None = None
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None
    status: CardStatus | None = None
    position: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = None


class CardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    repo_id: uuid.UUID
    title: str
    description: str
    status: CardStatus
    position: int
    priority: int
    branch_name: str | None
    pr_url: str | None
    job_id: uuid.UUID | None
    max_attempts: int
    conflict_files: list[str] | None
    merge_sha: str | None
    total_cost_usd: float = Field(
        0.0, description="What the card's agents cost so far, every job summed (USD)."
    )
    merged_head_sha: str | None = Field(
        description="The branch head approve merged (a done card's diff and commits end here)."
    )
    merge_base_sha: str | None = Field(
        description="The merge base of that head and the default branch at approve time "
        "(the diff starts here)."
    )
    github_issue_number: int | None = Field(None, description="The GitHub issue the card came from.")
    github_url: str | None = Field(None, description="That issue's page on GitHub.")
    github_issue_state: Literal["open", "closed"] | None = None
    labels: list[str] | None = Field(None, description="The issue's labels, as last synced.")
    archived_at: datetime | None = Field(
        None, description="Set while the card is off the board (issue closed)."
    )
    start_waiting_since: datetime | None = Field(
        None, description="Set while the card waits for a slot under the repo's WIP limit to start by itself."
    )
    pr_status: Literal["queued", "opened", "held"] | None = Field(
        None,
        description="Its pull request: being opened by the outbox, opened (pr_url), or held (github_error).",
    )
    github_error: str | None = Field(
        None, description="What went wrong with its last GitHub write or auto-start."
    )
    github_command: str | None = Field(
        None, description="The last `@lazyaf` command given on its GitHub thread (plan, build, iterate…)."
    )
    github_command_by: str | None = Field(None, description="Who gave that command (a GitHub login).")
    created_at: datetime
    updated_at: datetime


class CardDetailRead(CardRead):
    """One card, with what changes too often to travel on every card event."""

    waiting_reason: WaitingReason | None = Field(
        None,
        description="Why its job has not started, while it is queued (no runner, jobs ahead and busy "
        "runners, ...); exact as of this request. The board keeps it current from queue_updated events.",
    )
