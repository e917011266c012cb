"""Tables of the command pipeline: what arrived (deliveries), GitHub threads, commands and their runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, TimestampMixin, utcnow


class DeliveryStatus:
    QUEUED = "queued"  # stored, not looked at yet (the durable queue)
    ACCEPTED = "accepted"  # became a command
    IGNORED = "ignored"  # not a command LazyAF runs; ``reason`` says why
    FAILED = "failed"  # LazyAF could not process it; ``reason`` says why (replay it once fixed)


class CommandStatus:
    QUEUED = "queued"  # waiting for its thread (another command runs) or to start
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_COMMAND_STATUSES = frozenset({CommandStatus.DONE, CommandStatus.FAILED, CommandStatus.CANCELLED})


class GitHubDelivery(IdMixin, TimestampMixin, Base):
    """Something that arrived through a door (webhook, poller, CLI), and what became of it.

    ``delivery_id`` is GitHub's ``X-GitHub-Delivery`` for webhooks (a replayed id is a duplicate),
    ``poll:<kind>:<comment id>`` for the poller, ``cli:<uuid>`` for the CLI.
    """

    __tablename__ = "github_delivery"
    __table_args__ = (Index("ix_github_delivery_status_received_at", "status", "received_at"),)

    delivery_id: Mapped[str] = mapped_column(String(120), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # webhook | poll | cli
    repo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("repo.id", ondelete="SET NULL"), index=True)
    repository: Mapped[str | None] = mapped_column(String(201))
    event: Mapped[str] = mapped_column(String(60))
    action: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    reason: Mapped[str | None] = mapped_column(Text)
    # The webhook's payload as GitHub sent it, or the normalized event of the poller and the CLI.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    command_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("github_command.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class GitHubThread(IdMixin, TimestampMixin, Base):
    """One GitHub thread (an issue, or a pull request) of a linked repo: one card.

    A plan opened on issue #n makes a pull request #m; commands on either reach this thread
    (``number`` n, ``pr_number`` m). A thread that began on a pull request has ``is_pr`` and
    ``pr_number == number``.
    """

    __tablename__ = "github_thread"
    __table_args__ = (UniqueConstraint("repo_id", "number"),)

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card.id", ondelete="SET NULL"), index=True)
    number: Mapped[int]
    is_pr: Mapped[bool] = mapped_column(default=False)
    pr_number: Mapped[int | None]
    pr_url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    html_url: Mapped[str] = mapped_column(String(2000))
    slug: Mapped[str] = mapped_column(String(80))
    branch: Mapped[str | None] = mapped_column(String(255))
    # The pull request's head repository when it is not the linked one (a fork: answer only).
    head_repo: Mapped[str | None] = mapped_column(String(201))
    plan_path: Mapped[str | None] = mapped_column(String(300))
    # When the last plan step finished: refine shows the comments made since as new feedback.
    plan_at: Mapped[datetime | None]


class GitHubCommand(IdMixin, TimestampMixin, Base):
    """One ``@lazyaf <verb>`` that passed the gate, its run and its progress comment.

    ``comment_key`` (``issue_comment:<id>``, ``review_comment:<id>``, ``review:<id>``) is unique: a
    comment seen by both doors is one command. ``run`` is the seam's handle (github/commands/runs.py),
    opaque here; ``steps`` is the checklist the progress comment shows.
    """

    __tablename__ = "github_command"
    __table_args__ = (Index("ix_github_command_status_thread_id", "status", "thread_id"),)

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"), index=True)
    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("github_thread.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card.id", ondelete="SET NULL"))
    delivery_id: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(10))
    number: Mapped[int]  # the issue or pull request it was given on (its replies go there)
    comment_key: Mapped[str | None] = mapped_column(String(60), unique=True)
    comment_kind: Mapped[str] = mapped_column(String(20))  # issue_comment | review_comment | review | cli
    comment_id: Mapped[int | None] = mapped_column(BigInteger)
    # For a review comment: the first comment of its thread (replies go there).
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger)
    comment_url: Mapped[str | None] = mapped_column(String(2000))
    comment_at: Mapped[str | None] = mapped_column(String(40))  # GitHub's time of the trigger
    verb: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    actor_login: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default=CommandStatus.QUEUED)
    run: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    # The progress comment LazyAF owns: where it is, what it last said (sha256), whether final.
    progress_comment_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_sha: Mapped[str | None] = mapped_column(String(64))
    progress_sent_at: Mapped[datetime | None]
    progress_final: Mapped[bool] = mapped_column(default=False)
