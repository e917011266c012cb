"""Shapes for review: comments, the timeline, approve/reject/request-changes bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.cards.schemas import CardRead
from lazyaf.jobs.schemas import JobRead


class CommentCreate(BaseModel):
    """A review comment: general, or anchored to a file (and a line of its new side) in the diff."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
    file: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    line: Annotated[int, Field(ge=1)] | None = None


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


class AgentChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None


class TimelineEntry(BaseModel):
    at: datetime
    kind: Literal["attempt", "comment", "status", "merged", "conflict", "branch_deleted", "github"]
    data: dict[str, Any]


class TimelineRead(BaseModel):
    card: CardRead
    entries: list[TimelineEntry]


class ApproveRead(BaseModel):
    card: CardRead
    merge_sha: str


class JobQueuedRead(BaseModel):
    card: CardRead
    job: JobRead
