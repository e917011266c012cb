"""What the API and the board are told about predicted conflicts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConflictPolicy = Literal["warn", "hold"]
"""A repo's answer to predicted collisions: ``warn`` shows them; ``hold`` also keeps a card whose
plan's files overlap a running card's files queued (held) until that card is reviewed."""


class ConflictKind(StrEnum):
    CONFLICT = "conflict"
    """A merge of the two branches would stop on these files."""
    OVERLAP = "overlap"
    """Both branches change these files; git merges them without a conflict (today)."""


class ConflictRead(BaseModel):
    """One predicted collision of a card's branch with another active card's branch or the target."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    with_: str = Field(
        alias="with",
        description="The other card's id, or the name of the target branch (then `target` is true).",
    )
    with_title: str | None = Field(None, description="The other card's title; absent for the target branch.")
    target: bool = Field(description="The collision is with the repo's target (default) branch.")
    files: list[str] = Field(
        description="The conflicting files (conflict) or the files both change (overlap)."
    )
    kind: ConflictKind
    detected_at: datetime = Field(description="When LazyAF first predicted it.")


class RepoConflictsRead(BaseModel):
    """Every active card's predicted collisions in a repo, by card id (cards without any are left out)."""

    cards: dict[uuid.UUID, list[ConflictRead]]


ClearedReason = Literal["resolved", "merged", "other_merged", "inactive", "changed"]
