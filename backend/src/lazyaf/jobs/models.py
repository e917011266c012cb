"""The Job table (one unit of agent work for a card, run in numbered attempts) and its log events."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lazyaf_protocol.messages import JobKind as JobKind
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lazyaf.db.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow

if TYPE_CHECKING:
    from lazyaf.runs.models import Step


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class Job(IdMixin, TimestampMixin, Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_status_priority_created_at", "status", "priority", "created_at"),
        # The queue by priority, oldest first: how the scheduler reads it (limits/service.py).
        Index("ix_job_status_priority_queued_at_id", "status", "priority", "queued_at", "id"),
    )

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    # The step this job is an attempt of (None: a job from before runs existed).
    step_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("step.id", ondelete="SET NULL"), index=True)
    # Never loaded: it orders a step's insert before its job's in one flush (runs/models.py).
    step: Mapped[Step | None] = relationship(lazy="raise")
    runner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("runner.id", ondelete="SET NULL"))
    status: Mapped[JobStatus] = mapped_column(StrEnumType(JobStatus), default=JobStatus.QUEUED, index=True)
    # Copied from the card when queued, so the claim query needs no join.
    priority: Mapped[int] = mapped_column(default=1)
    # Why this agent pass runs, which picks its prompt (lazyaf_protocol.messages.JobKind).
    kind: Mapped[JobKind] = mapped_column(StrEnumType(JobKind), default=JobKind.BUILD)
    agent: Mapped[str] = mapped_column(String(50), default="claude")
    prompt: Mapped[str] = mapped_column(Text, default="")
    branch: Mapped[str] = mapped_column(String(255), default="")
    base_branch: Mapped[str] = mapped_column(String(255), default="main")
    # Fence for runner messages: each claim bumps the attempt and sets a lease.
    attempt: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None]
    # sha256 of the per-attempt token the runner uses against git and the API.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(30))
    agent_started_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # The agent's last event (stall detection, orchestration/stalls.py; kept to about a second).
    last_event_at: Mapped[datetime | None]
    # Set while the running agent has been silent for its repo's stall_after_s; cleared by its next event.
    stalled_at: Mapped[datetime | None]
    # Why LazyAF itself stopped the attempt (silent past kill_after_s, or past its wall-clock limit)
    # and when it asked: the runner kills the tree and reports, and the attempt fails with this reason.
    stop_reason: Mapped[str | None] = mapped_column(Text)
    stop_requested_at: Mapped[datetime | None]
    logs: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None]
    base_sha: Mapped[str | None] = mapped_column(String(64))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    commits: Mapped[int | None]
    files_changed: Mapped[int | None]
    lines_added: Mapped[int | None]
    lines_removed: Mapped[int | None]
    session_id: Mapped[str | None] = mapped_column(String(100))
    # The earlier agent session this job continues (Claude Code --resume), if any.
    resume_session: Mapped[str | None] = mapped_column(String(100))
    cost_usd: Mapped[float | None]
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    num_turns: Mapped[int | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    # Verification results: [{name, command, exit_code, duration_ms, output}], in order.
    verification: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # A completed pass on an existing branch that left it where it was (the agent changed nothing).
    no_changes: Mapped[bool] = mapped_column(default=False)
    # The agent's configuration files (.claude/, CLAUDE.md, .mcp.json, .lazyaf/) come from the
    # default branch, not the job's branch (a pull request's branch must not configure its agent).
    agent_config_from_base: Mapped[bool] = mapped_column(default=False)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Indexed for the day's counts and spend (limits/service.py): agent runs by start, cost by end.
    started_at: Mapped[datetime | None] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column(index=True)


class JobEvent(Base):
    """One normalized agent event of one attempt, in the order the runner numbered them."""

    __tablename__ = "job_event"
    __table_args__ = (UniqueConstraint("job_id", "attempt", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
