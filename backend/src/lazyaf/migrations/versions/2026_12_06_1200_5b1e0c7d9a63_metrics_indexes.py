"""metrics indexes: finished attempts by time, and card history entries by kind and time

Issue 15: GET /api/metrics reads the attempts that ended in a period (job.completed_at) and the
timeline entries of some kinds in a period (card_activity.kind, created_at); without these
indexes both are full-table scans that grow with every job the server has ever run.

Revision ID: 5b1e0c7d9a63
Revises: de5e366d1ce8
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b1e0c7d9a63"
down_revision: str | None = "de5e366d1ce8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_completed_at"), ["completed_at"], unique=False)
    with op.batch_alter_table("card_activity", schema=None) as batch_op:
        batch_op.create_index("ix_card_activity_kind_created_at", ["kind", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_card_activity_kind_created_at")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_completed_at"))
