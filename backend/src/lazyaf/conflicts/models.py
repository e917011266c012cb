"""The ConflictPrediction table: every prediction made, kept after it clears (for the metrics)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, utcnow


class ConflictPrediction(Base):
    """That card ``card_id``'s branch collides with another active card's branch (``other_card_id``)
    or with the repo's target branch (``target_branch``; ``other_card_id`` None): ``kind`` conflict
    (a merge of the two would stop on ``files``) or overlap (both change ``files``, git merges them).

    A pair of cards is two rows, one per card. A row is active while ``cleared_at`` is None; a new
    prediction for the same pair of another kind is a new row. ``cleared_reason``: resolved (both
    still active, git no longer predicts it), merged (this card was approved), other_merged,
    inactive (this card or the other left the active cards: deleted, archived, back to To Do,
    failed), changed (replaced by a prediction of the other kind).
    """

    __tablename__ = "conflict_prediction"
    __table_args__ = (Index("ix_conflict_prediction_repo_id_cleared_at", "repo_id", "cleared_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("repo.id", ondelete="CASCADE"))
    card_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("card.id", ondelete="CASCADE"), index=True)
    # No foreign key: the row outlives the other card, so its clearing is recorded and announced.
    other_card_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    target_branch: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    files: Mapped[list[str]] = mapped_column(JSON)
    # The two commits compared when it was last confirmed: the card branch's and the other side's.
    card_sha: Mapped[str] = mapped_column(String(64))
    other_sha: Mapped[str] = mapped_column(String(64))
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]
    cleared_reason: Mapped[str | None] = mapped_column(String(20))
