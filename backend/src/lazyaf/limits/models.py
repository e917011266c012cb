"""The limits table: budgets and limits on agent work, one row per scope (the whole server, or a repo).

A value of None is no limit. What each one means, and how a repo's row and the global row combine,
is ``limits/policy.py``'s docstring.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, TimestampMixin

GLOBAL = "global"
"""The scope of the server-wide row; a repo's row has its repo id (hex) as its scope."""


class LimitSet(TimestampMixin, Base):
    __tablename__ = "limit_set"

    # "global", or the repo's id: one row per scope (a NULL repo_id would not be unique).
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    repo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"), unique=True)
    max_running: Mapped[int | None]
    max_running_per_repo: Mapped[int | None]
    daily_usd: Mapped[float | None]
    daily_agent_runs: Mapped[int | None]
    per_card_usd: Mapped[float | None]
    cooldown_s: Mapped[int | None]
    failure_cooldown_after: Mapped[int | None]
