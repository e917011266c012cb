"""The Repo table: one row per repository held by the embedded git server."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, TimestampMixin, utcnow


class Repo(IdMixin, TimestampMixin, Base):
    __tablename__ = "repo"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    remote_url: Mapped[str | None] = mapped_column(String(2000))
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    # True once the first push landed in the internal repo.
    is_ingested: Mapped[bool] = mapped_column(default=False)
    # How approve merges a card branch: auto (fast-forward when possible), merge, or squash.
    merge_strategy: Mapped[str] = mapped_column(String(20), default="auto")
    # Verification the runner runs after the agent, in order; each optional.
    setup_command: Mapped[str | None] = mapped_column(Text)
    lint_command: Mapped[str | None] = mapped_column(Text)
    test_command: Mapped[str | None] = mapped_column(Text)
    build_command: Mapped[str | None] = mapped_column(Text)
    # The workflow a card runs when it is dragged to In Progress or started without naming one
    # (None: lazyaf.workflows.presets.DEFAULT_WORKFLOW).
    default_workflow: Mapped[str | None] = mapped_column(String(50))
    # Globs of the paths a workflow's test step may add or change (None: workflows.paths.DEFAULT_TEST_PATHS).
    test_paths: Mapped[list[str] | None] = mapped_column(JSON)


class RepoAlias(Base):
    """A name a repo had before it was renamed: its clone URL keeps working until another repo
    takes the name (repos/service.py)."""

    __tablename__ = "repo_alias"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
