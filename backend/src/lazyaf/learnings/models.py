"""Learnings: short advice about a repository, scoped to path globs, that reaches agents' prompts
once a person accepts it (learnings/service.py); each use in a prompt and each reviewer's verdict
on a card is recorded."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow


class LearningStatus(StrEnum):
    PROPOSED = "proposed"
    """Written by an agent (or a person who wants to look again): never in a prompt."""
    ACCEPTED = "accepted"
    """A person accepted it: it goes into the prompts of cards touching its paths."""
    RETIRED = "retired"
    """No longer used; kept so the same advice is not proposed again."""


class LearningKind(StrEnum):
    ADVICE = "advice"
    CONVENTION = "convention"
    PITFALL = "pitfall"
    COMMAND = "command"


class LearningSource(StrEnum):
    AGENT = "agent"
    """Proposed in an agent's final message (a fenced ``learnings`` block)."""
    REVIEW = "review"
    """Made from a reviewer's comment."""
    PERSON = "person"
    """Written by a person (the board, the API)."""


class LearningVerdict(StrEnum):
    HELPFUL = "helpful"
    HARMFUL = "harmful"


class Learning(IdMixin, TimestampMixin, Base):
    __tablename__ = "learning"
    __table_args__ = (Index("ix_learning_repo_id_status", "repo_id", "status"),)

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    # Globs of the paths it is about (``src/api/**``, ``*.py``); empty: the whole repository.
    paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[LearningKind] = mapped_column(StrEnumType(LearningKind), default=LearningKind.ADVICE)
    status: Mapped[LearningStatus] = mapped_column(
        StrEnumType(LearningStatus), default=LearningStatus.PROPOSED
    )
    source: Mapped[LearningSource] = mapped_column(StrEnumType(LearningSource))
    # Where it came from: the card, the agent's job, the reviewer's comment (None once deleted).
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card.id", ondelete="SET NULL"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    comment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("comment.id", ondelete="SET NULL"))
    # Reviewers' verdicts (one per card, learning_mark) and uses in prompts (learning_use), counted.
    helpful: Mapped[int] = mapped_column(default=0)
    harmful: Mapped[int] = mapped_column(default=0)
    uses: Mapped[int] = mapped_column(default=0)
    last_used_at: Mapped[datetime | None]
    # When a person last accepted or retired it.
    decided_at: Mapped[datetime | None]


class LearningUse(Base):
    """One learning put into one agent prompt of one card (``learnings used`` in the metrics)."""

    __tablename__ = "learning_use"
    __table_args__ = (Index("ix_learning_use_repo_id_used_at", "repo_id", "used_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    learning_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("learning.id", ondelete="CASCADE"), index=True)
    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class LearningMark(Base):
    """A reviewer's verdict on a learning, from one card: helpful or harmful (one per card)."""

    __tablename__ = "learning_mark"
    __table_args__ = (UniqueConstraint("learning_id", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    learning_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("learning.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[LearningVerdict] = mapped_column(StrEnumType(LearningVerdict))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
