"""The Card table and its status."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow


class CardStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    DONE = "done"
    FAILED = "failed"


class ActivityKind(StrEnum):
    """What a timeline entry (``CardActivity``) records."""

    STATUS = "status"
    MERGED = "merged"
    CONFLICT = "conflict"
    BRANCH_DELETED = "branch_deleted"
    NO_CHANGES = "no_changes"
    GITHUB = "github"
    """Something GitHub did or was told (data.event: approved, commented, closed, ...)."""
    PROMPT = "prompt"
    """A person's follow-up prompt: queued (data.queued) or delivered by an attempt (data.job_id)."""


class Card(IdMixin, TimestampMixin, Base):
    __tablename__ = "card"
    __table_args__ = (
        Index("ix_card_repo_id_status_position", "repo_id", "status", "position"),
        # One card per GitHub issue of a repo (NULLs, cards not from an issue, never collide).
        UniqueConstraint("repo_id", "github_issue_number"),
    )

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
    # Agent passes allowed before the card fails (start, retries, verification fixes).
    max_attempts: Mapped[int] = mapped_column(default=3)
    # Set when approve found the branch conflicting with the default branch.
    conflict_files: Mapped[list[str] | None] = mapped_column(JSON)
    merge_sha: Mapped[str | None] = mapped_column(String(64))
    # What its agents have cost so far, every job summed (kept as jobs complete, so a page of
    # cards and every card event carry it without a query).
    total_cost_usd: Mapped[float] = mapped_column(default=0.0)
    # What approve merged, for the diff and commits of a done card: the branch head it merged and
    # its merge base with the default branch then (kept reachable by refs/lazyaf/merged/<card id>).
    merged_head_sha: Mapped[str | None] = mapped_column(String(64))
    merge_base_sha: Mapped[str | None] = mapped_column(String(64))
    # The GitHub issue the card came from (lazyaf.github.sync): its number, page, state and labels.
    github_issue_number: Mapped[int | None]
    github_url: Mapped[str | None] = mapped_column(String(2000))
    github_issue_state: Mapped[str | None] = mapped_column(String(10))
    labels: Mapped[list[str] | None] = mapped_column(JSON)
    # Off the board (a To Do card whose issue was closed); None while the card is shown.
    archived_at: Mapped[datetime | None]
    # Set while the card waits for a slot under its repo's WIP limit (auto-start): the scheduler
    # starts waiting cards, oldest first, whenever fewer than the limit are in progress.
    start_waiting_since: Mapped[datetime | None]
    # The card's pull request: queued (the outbox is opening it), opened, or held (see github_error).
    pr_status: Mapped[str | None] = mapped_column(String(20))
    # What went wrong with the card's last GitHub write or auto-start, in a sentence; None when fine.
    github_error: Mapped[str | None] = mapped_column(Text)
    # The last `@lazyaf <verb>` given on the card's GitHub thread, and who gave it (github/commands).
    github_command: Mapped[str | None] = mapped_column(String(20))
    github_command_by: Mapped[str | None] = mapped_column(String(100))


class Comment(IdMixin, TimestampMixin, Base):
    """A review comment, general or anchored to a file and line of the card's diff."""

    __tablename__ = "comment"

    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    file: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None]
    # The code the comment points at, captured when it was written (the diff moves on).
    snippet: Mapped[str | None] = mapped_column(Text)
    # The job that was asked to address it (request changes); None while open.
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))


class CardActivity(Base):
    """What happened to a card, in order: status changes, merges, rejections (the timeline)."""

    __tablename__ = "card_activity"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
