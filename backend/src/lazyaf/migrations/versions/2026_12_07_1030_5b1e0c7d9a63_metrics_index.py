"""metrics index: card history entries by kind and time

Issue 15: GET /api/metrics reads the timeline entries of some kinds in a period (reviews, merges,
refused approvals: card_activity.kind, created_at); without this index that is a full-table scan
that grows with every card the server has ever run. (The attempts that ended in a period are
read through ix_job_completed_at, which the limits migration of the same issue adds.)

Revision ID: 5b1e0c7d9a63
Revises: 23f1f5f67b36
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b1e0c7d9a63"
down_revision: str | None = "23f1f5f67b36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_activity", schema=None) as batch_op:
        batch_op.create_index("ix_card_activity_kind_created_at", ["kind", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_card_activity_kind_created_at")
