"""GitHub tables: a repo's link (token sealed), the issues synced into cards, the outbox of writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, TimestampMixin, utcnow
from lazyaf.secretbox import Sealed, encrypted_column


class GitHubLink(IdMixin, TimestampMixin, Base):
    """A LazyAF repo linked to a GitHub (or GitHub Enterprise) repository; at most one per repo."""

    __tablename__ = "github_link"

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"), unique=True)
    owner: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    api_url: Mapped[str] = mapped_column(String(2000))
    git_url: Mapped[str] = mapped_column(String(2000))
    token: Mapped[Sealed | None] = encrypted_column()
    webhook_secret: Mapped[Sealed | None] = encrypted_column()
    # What Approve does: merge inside LazyAF, or push the branch and open a pull request.
    on_approve: Mapped[str] = mapped_column(String(20), default="merge")
    # The automation switch: the poller syncs and the scheduler auto-starts only while on.
    automation_enabled: Mapped[bool] = mapped_column(default=False)
    # The sync rule (github.schemas.SyncRule as JSON); None until one is set.
    sync_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Incremental sync: issues updated at or after this GitHub time, and the ETag of the first
    # page last seen (a 304 costs no quota). Reset when the rule or the repository changes.
    sync_since: Mapped[str | None] = mapped_column(String(40))
    sync_etag: Mapped[str | None] = mapped_column(String(200))
    last_sync_at: Mapped[datetime | None]
    last_sync: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {created, updated, closed, skipped}
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    verify: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the last verify's answer
    verified_at: Mapped[datetime | None]
    rate_limit_limit: Mapped[int | None]
    rate_limit_remaining: Mapped[int | None]
    rate_limit_reset_at: Mapped[datetime | None]
    # Commands from comments (github/commands): who may give them and how LazyAF hears them.
    commands_enabled: Mapped[bool] = mapped_column(default=True)
    trigger_phrase: Mapped[str] = mapped_column(String(40), default="@lazyaf")
    allowed_users: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{login, id}]
    require_write: Mapped[bool] = mapped_column(default=False)
    allowed_bots: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{login, id}]
    poll_comments: Mapped[bool] = mapped_column(default=True)
    poll_interval_s: Mapped[int] = mapped_column(default=30)
    # The comment poller's cursors (GitHub times and first-page ETags) and where it started:
    # comments made before ``commands_from`` are never taken for commands.
    commands_from: Mapped[datetime | None]
    comments_since: Mapped[str | None] = mapped_column(String(40))
    comments_etag: Mapped[str | None] = mapped_column(String(200))
    review_comments_since: Mapped[str | None] = mapped_column(String(40))
    review_comments_etag: Mapped[str | None] = mapped_column(String(200))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class GitHubIssue(IdMixin, TimestampMixin, Base):
    """What LazyAF last saw of one issue, and its card: one row per (repo, number), ever.

    A row whose card was deleted stays (``card_id`` None) so the issue does not come back.
    ``synced_title``/``synced_body`` are what the sync last wrote to the card: while the card
    still shows them nobody edited it, and the card follows the issue.
    """

    __tablename__ = "github_issue"
    __table_args__ = (UniqueConstraint("repo_id", "number"),)

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card.id", ondelete="SET NULL"), index=True)
    full_name: Mapped[str] = mapped_column(String(201))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(10))
    labels: Mapped[list[str]] = mapped_column(JSON)
    html_url: Mapped[str] = mapped_column(String(2000))
    author: Mapped[str | None] = mapped_column(String(100))
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{author, body, at}], sanitized
    comment_count: Mapped[int] = mapped_column(default=0)
    github_updated_at: Mapped[str] = mapped_column(String(40))
    synced_title: Mapped[str] = mapped_column(Text)
    synced_body: Mapped[str] = mapped_column(Text)


class OutboxStatus:
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    HELD = "held"  # stopped on an error retrying will not fix; resumes when the link is fixed


class GitHubOutbox(IdMixin, TimestampMixin, Base):
    """One write to GitHub, done at least once and applied once (see github/outbox.py)."""

    __tablename__ = "github_outbox"
    __table_args__ = (Index("ix_github_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"), index=True)
    card_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("card.id", ondelete="SET NULL"))
    op: Mapped[str] = mapped_column(String(30))
    idem_key: Mapped[str] = mapped_column(String(300), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    done_at: Mapped[datetime | None]
