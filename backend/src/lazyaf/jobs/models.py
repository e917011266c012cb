"""The Job table: one attempt-carrying unit of agent work for a card."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, TimestampMixin


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(IdMixin, TimestampMixin, Base):
    __tablename__ = "job"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    runner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("runner.id", ondelete="SET NULL"))
    status: Mapped[JobStatus] = mapped_column(String(20), default=JobStatus.QUEUED, index=True)
    # Fence for runner messages: each claim bumps the attempt and sets a lease.
    attempt: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None]
    logs: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
