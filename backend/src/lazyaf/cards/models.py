"""The Card table and its status."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, StrEnumType, TimestampMixin


class CardStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    DONE = "done"
    FAILED = "failed"


class Card(IdMixin, TimestampMixin, Base):
    __tablename__ = "card"
    __table_args__ = (Index("ix_card_repo_id_status_position", "repo_id", "status", "position"),)

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CardStatus] = mapped_column(StrEnumType(CardStatus), default=CardStatus.TODO)
    # Order within the card's column, 0 at the top; kept dense by the service.
    position: Mapped[int] = mapped_column(default=0)
    priority: Mapped[int] = mapped_column(default=1)
    branch_name: Mapped[str | None] = mapped_column(String(255))
    pr_url: Mapped[str | None] = mapped_column(String(2000))
    # The current (last) job; use_alter breaks the card <-> job foreign-key cycle.
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("job.id", ondelete="SET NULL", use_alter=True)
    )
