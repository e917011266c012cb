"""Shapes for review: comments, the timeline, approve/reject/request-changes bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.cards.schemas import CardRead
from lazyaf.jobs.schemas import JobRead
from lazyaf.validation import INT64_MAX, one_line, plain_text


class CommentCreate(BaseModel):
    """A review comment: general, or anchored to a file (and a line of its new side) in the diff."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
        AfterValidator(plain_text),
    ]
    file: (
        Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(one_line)] | None
    ) = None
    line: Annotated[int, Field(ge=1, le=INT64_MAX)] | None = None


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    card_id: uuid.UUID
    body: str
    file: str | None
    line: int | None
    snippet: str | None
    job_id: uuid.UUID | None = Field(
        description="The job asked to address it; null while the comment is open."
    )
    created_at: datetime


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delete_branch: bool = Field(False, description="Also delete the card's branch (the job history is kept).")


Sha = Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")]


class ApproveBody(BaseModel):
    """What the reviewer approved: the head of the card branch they saw."""

    model_config = ConfigDict(extra="forbid")

    expected_head: Sha | None = Field(
        None,
        description=(
            "The card branch's head sha the reviewer saw; 409 when the branch points elsewhere now. "
            "Omitted: merge the branch where it points (scripts, older clients)."
        ),
    )


class AgentChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: Annotated[str, StringConstraints(min_length=1, max_length=50), AfterValidator(one_line)] | None = (
        None
    )


class TimelineEntry(BaseModel):
    at: datetime
    kind: Literal[
        "attempt",
        "comment",
        "status",
        "merged",
        "conflict",
        "branch_deleted",
        "no_changes",
        "github",
        "prompt",
    ] = Field(
        description="conflict: approve found conflicts, or a job left some (data.files, data.job_id); "
        "no_changes: a job's agent left the branch unchanged (data.job_id, data.kind); "
        "github: the card's GitHub issue or pull request changed (data.event, data.number, data.url); "
        "prompt: a follow-up prompt was queued (data.queued) or sent (data.job_id)."
    )
    data: dict[str, Any]


class TimelineRead(BaseModel):
    card: CardRead
    entries: list[TimelineEntry]


class ApproveRead(BaseModel):
    card: CardRead
    merge_sha: str = Field(description="The merge commit ('' when nothing was merged here).")
    plan_approved: bool = Field(
        False, description="The card's run waited for its plan's review: it goes on with its next step."
    )


class JobQueuedRead(BaseModel):
    card: CardRead
    job: JobRead
