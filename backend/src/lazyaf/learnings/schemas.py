"""Request and response shapes for learnings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from lazyaf.learnings.models import LearningKind, LearningSource, LearningStatus, LearningVerdict
from lazyaf.learnings.paths import normalize
from lazyaf.validation import one_line, plain_text

TEXT_LIMIT = 2000


def _glob(value: str) -> str:
    glob = normalize(value)
    if not glob:
        raise ValueError("a path glob must not be empty (use no globs for the whole repository)")
    if ".." in glob.split("/"):
        raise ValueError(f"'{value}' climbs out of the repository ('..'); write a path inside it")
    if glob.startswith("-"):
        raise ValueError(f"'{value}' starts with '-'; write a path such as src/** or *.py")
    return glob


Glob = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(one_line),
    AfterValidator(_glob),
]
Globs = Annotated[
    list[Glob],
    Field(
        max_length=20,
        description="Path globs it is about (`src/api/**`, `*.py`, a directory); empty: the whole "
        "repository.",
    ),
]
LearningText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_LIMIT),
    AfterValidator(plain_text),
    Field(description=f"The advice, in a sentence or two (at most {TEXT_LIMIT} characters)."),
]


class LearningCreate(BaseModel):
    """A learning a person writes: accepted at once (it is their word), unless proposed for later."""

    model_config = ConfigDict(extra="forbid")

    text: LearningText
    paths: Globs = []
    kind: LearningKind = LearningKind.ADVICE
    status: Literal["accepted", "proposed"] = Field(
        "accepted", description="accepted: prompts may carry it now; proposed: look at it again before."
    )


class LearningUpdate(BaseModel):
    """Accept or retire a learning, or edit it (a proposed one stays proposed until accepted)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "retired"] | None = None
    text: LearningText | None = None
    paths: Globs | None = None
    kind: LearningKind | None = None


class CommentLearningCreate(BaseModel):
    """A reviewer's comment kept as a learning; the text defaults to the comment's, the paths to
    the file it is on (a general comment: the whole repository)."""

    model_config = ConfigDict(extra="forbid")

    text: LearningText | None = None
    paths: Globs | None = None
    kind: LearningKind = LearningKind.ADVICE


class LearningMarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: LearningVerdict | None = Field(
        description="helpful or harmful, from this card's review; null takes the card's mark back."
    )


class LearningRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    repo_id: uuid.UUID
    text: str
    paths: list[str]
    kind: LearningKind
    status: LearningStatus = Field(
        description="proposed: never in a prompt; accepted: in the prompts of cards touching its "
        "paths; retired: no longer used."
    )
    source: LearningSource = Field(description="Who made it: an agent, a reviewer's comment, or a person.")
    card_id: uuid.UUID | None = Field(description="The card it came from, if any.")
    job_id: uuid.UUID | None = Field(description="The agent job that proposed it, if any.")
    comment_id: uuid.UUID | None = Field(description="The review comment it was made from, if any.")
    helpful: int = Field(description="Cards whose reviewer marked it helpful.")
    harmful: int = Field(description="Cards whose reviewer marked it harmful.")
    uses: int = Field(description="Prompts it was put in.")
    last_used_at: datetime | None
    decided_at: datetime | None = Field(description="When a person last accepted or retired it.")
    created_at: datetime
    updated_at: datetime


class CardLearningRead(LearningRead):
    """A learning put into this card's prompts, with the card's own verdict on it."""

    card_uses: int = Field(description="Prompts of this card it was put in.")
    mark: LearningVerdict | None = Field(description="This card's verdict: helpful, harmful, or none yet.")


class CardLearningsRead(BaseModel):
    used: list[CardLearningRead] = Field(description="Learnings its agents were given, most used first.")
    proposed: list[LearningRead] = Field(description="Learnings its agents proposed (any status now).")
