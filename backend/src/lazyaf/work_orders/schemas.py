"""Request and response shapes of /api/work-orders.

A work order is a *run* (``runs.models.Run``) seen from outside: its id is the run's id, its card
is the card the run works on. Creating one creates a card and starts its run; nothing else is
stored, so every field here is read from the card, the run, its steps and their jobs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.cards.models import CardStatus
from lazyaf.cards.schemas import Title
from lazyaf.runs.models import RunStatus
from lazyaf.runs.schemas import RunStepRead
from lazyaf.validation import plain_text
from lazyaf.workflows.kinds import StepKind


def _says_something(value: str) -> str:
    if not value.strip():
        raise ValueError("say what the agent should do; the prompt is empty")
    return value


Prompt = Annotated[
    str, StringConstraints(max_length=50_000), AfterValidator(plain_text), AfterValidator(_says_something)
]
WorkflowName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class WorkOrderCreate(BaseModel):
    """A new work order: a card in ``repo`` whose run starts at once."""

    model_config = ConfigDict(extra="forbid")

    repo: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="The repo's name (or a name it had before a rename) or its id.", examples=["myrepo"]
    )
    prompt: Prompt = Field(description="What the agent should do: the card's description, and its prompt.")
    title: Title | None = Field(None, description="The card's title; the prompt's first line when omitted.")
    workflow: WorkflowName | None = Field(
        None,
        description="The workflow to run (GET /api/workflows?repo= lists them); the repo's default when "
        "omitted.",
    )
    review_plan: bool = Field(
        False, description="Stop after the plan step with the card in review; approve goes on with the build."
    )


class WorkOrderRead(BaseModel):
    """A work order: a run of a workflow on a card, its steps and where the card is."""

    id: uuid.UUID = Field(description="The work order's id: its run's id.")
    card_id: uuid.UUID
    repo_id: uuid.UUID
    repo: str = Field(description="The repo's name.")
    title: str
    workflow: str
    status: RunStatus = Field(
        description="running; waiting (for a person: the plan's review); succeeded (the card is in review "
        "or done); failed; cancelled."
    )
    phase: str | None = Field(
        description="The running step's kind, plan_review while it waits, None once it ended."
    )
    card_status: CardStatus
    branch: str | None = Field(description="The card's branch on LazyAF's git server.")
    review_plan: bool
    error: str | None
    created_at: datetime
    started_at: datetime
    finished_at: datetime | None
    steps: list[RunStepRead]


class StepProgress(BaseModel):
    """What one step added to the branch (from refs, recorded when the step ended)."""

    position: int
    kind: StepKind
    commits: int | None
    files_changed: int | None
    lines_added: int | None
    lines_removed: int | None


class GitProgressRead(BaseModel):
    """What the work order's run has done to its card's branch so far, read from git refs."""

    branch: str | None
    base_sha: str | None = Field(
        description="Where the branch was when the run began (or the default branch then)."
    )
    head_sha: str | None = Field(description="The branch's head now (for a merged card: what was merged).")
    commits: int = Field(description="Commits between base_sha and head_sha.")
    files_changed: int
    lines_added: int
    lines_removed: int
    steps: list[StepProgress]


class WorkOrderEventRead(BaseModel):
    """One agent event of one of the work order's attempts, with the step it belongs to."""

    id: int = Field(description="Page by it: pass the last one seen as after=.")
    job_id: uuid.UUID
    step_id: uuid.UUID | None
    step_position: int | None
    step_kind: StepKind | None
    attempt: int
    seq: int
    kind: str
    data: dict[str, Any]
    created_at: datetime


class WorkOrderLogPage(BaseModel):
    events: list[WorkOrderEventRead]
    next_after: int = Field(description="Pass as after= for the next page.")
    status: RunStatus = Field(description="The work order's status when the page was read.")
