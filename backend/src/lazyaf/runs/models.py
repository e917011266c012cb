"""Runs and steps: a card's agent work as a workflow (an ordered list of steps), run on its branch.

A card runs *runs*; a run has *steps*; a step has *attempts* (jobs, one agent pass each; a step
is retried as a new attempt). Which status follows which is in ``orchestration/states.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lazyaf.db.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow
from lazyaf.workflows.kinds import StepKind


class RunStatus(StrEnum):
    RUNNING = "running"
    """One of its steps is running (or its attempt waits for a runner)."""
    WAITING = "waiting"
    """A step ended and the run waits for a person (a review) before its next step."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    """The run has not reached it."""
    RUNNING = "running"
    """Its current attempt is queued or running."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    """The run ended before reaching it."""


class Run(IdMixin, TimestampMixin, Base):
    """One go of a workflow on a card's branch: its steps, in order."""

    __tablename__ = "run"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    # The workflow it runs (a StepKind's name today: build, iterate).
    workflow: Mapped[str] = mapped_column(String(50))
    status: Mapped[RunStatus] = mapped_column(StrEnumType(RunStatus), default=RunStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Step(IdMixin, TimestampMixin, Base):
    """One step of a run; its attempts are jobs (``job.step_id``), the last one its current."""

    __tablename__ = "step"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    # Never loaded (lazy="raise"): it tells the unit of work that a run is written before its steps,
    # so a start writes its run, step and job in one flush.
    run: Mapped[Run] = relationship(lazy="raise")
    # Its place in the run, 0 first.
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[StepKind] = mapped_column(StrEnumType(StepKind))
    status: Mapped[StepStatus] = mapped_column(StrEnumType(StepStatus), default=StepStatus.PENDING)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
