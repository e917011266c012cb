"""Request and response shapes for workflows (``GET /api/workflows``, starting a card, prompts)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.validation import plain_text
from lazyaf.workflows.kinds import StepKind

WorkflowName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_-]*$"),
]


class WorkflowRead(BaseModel):
    name: str
    steps: list[StepKind] = Field(description="Its steps, in order.")
    description: str
    source: Literal["builtin", "repo"] = Field(
        description="builtin: LazyAF's preset; repo: the repo's .lazyaf/workflows/<name>.yaml "
        "on its default branch (it overrides a built-in preset of the same name)."
    )
    alias_of: str | None = Field(None, description="The preset it is another name for.")
    max_iterations: int = Field(description="Iterations a loop step gets at most.")


class WorkflowList(BaseModel):
    """The workflows a card can run, and which one it runs when dragged or started without one."""

    workflows: list[WorkflowRead]
    default_workflow: str = Field(description="The repo's default workflow (build when it names none).")
    problems: dict[str, str] = Field(
        default_factory=dict, description="By name: why a repo preset file cannot be used."
    )


class PromptCreate(BaseModel):
    """A follow-up prompt for the card's agent."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000),
        AfterValidator(plain_text),
    ] = Field(description="What to tell the agent, in its session.")


class PromptRead(BaseModel):
    """What became of a follow-up prompt."""

    id: uuid.UUID
    status: Literal["queued", "delivered"] = Field(
        description="queued: a step is running; the prompt goes to its session when it ends. "
        "delivered: an attempt carrying it was queued (job_id)."
    )
    job_id: uuid.UUID | None
    run_id: uuid.UUID | None = Field(description="The run the prompt went to (or waits in).")
