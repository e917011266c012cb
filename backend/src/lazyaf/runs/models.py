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
    # Stop after the plan step, the card in review showing the plan: approve goes on, request
    # changes re-plans with the comments, reject ends the run.
    review_plan: Mapped[bool] = mapped_column(default=False)
    # At most this many iterations (steps) of a loop step.
    max_iterations: Mapped[int] = mapped_column(default=10)
    # The plan document its plan step writes and later steps read (None: it has no plan step).
    plan_path: Mapped[str | None] = mapped_column(String(300))
    # Its agents run with the default branch's configuration files, not the branch's (a GitHub
    # command's run: a pull request's branch must not configure its agent).
    agent_config_from_base: Mapped[bool] = mapped_column(default=False)
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
    # A loop step's iteration (1 first; each iteration is a step of its own); None for other kinds.
    iteration: Mapped[int | None]
    # The prompt of its first attempt, given by whoever started the run (a GitHub command); None:
    # rendered from prompts/steps/<kind>.md.j2 when the step begins.
    prompt: Mapped[str | None] = mapped_column(Text)
    # Git progress, from refs: where the card branch was when the step began (None: it did not
    # exist yet, so the default branch's tip) and when it ended, and what lies between.
    start_sha: Mapped[str | None] = mapped_column(String(64))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    commits: Mapped[int | None]
    files_changed: Mapped[int | None]
    lines_added: Mapped[int | None]
    lines_removed: Mapped[int | None]


class FollowUp(IdMixin, TimestampMixin, Base):
    """A person's follow-up prompt for a card (``POST /api/cards/{id}/prompt``): queued while a
    step runs, delivered as the next turn of that step's session when it ends."""

    __tablename__ = "followup"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    # The attempt that carried it to the agent (None: still queued).
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    delivered_at: Mapped[datetime | None]
