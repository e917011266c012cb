"""The board-event outbox: every broadcast is a row, written in the transaction of the change it describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, utcnow


class BoardEvent(Base):
    __tablename__ = "board_event"

    # The sequence number clients resume from; assigned by the database at insert.
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
