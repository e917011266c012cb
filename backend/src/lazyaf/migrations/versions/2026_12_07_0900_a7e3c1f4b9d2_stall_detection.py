"""stall detection: when a running agent last spoke, its stall mark, LazyAF's own stop; per-repo limits

Issue 15: a running agent silent for stall_after_s is marked stalled (job.stalled_at), and after
kill_after_s it is stopped and fails with the reason (job.stop_reason, job.stop_requested_at).
job.last_event_at follows its events. A repo may set its own stall_after_s and kill_after_s
(NULL: the server's settings). Existing rows need nothing: all new columns are NULL.

Revision ID: a7e3c1f4b9d2
Revises: de5e366d1ce8
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7e3c1f4b9d2"
down_revision: str | None = "de5e366d1ce8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stalled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stop_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("stop_requested_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stall_after_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("kill_after_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.drop_column("kill_after_s")
        batch_op.drop_column("stall_after_s")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("stop_requested_at")
        batch_op.drop_column("stop_reason")
        batch_op.drop_column("stalled_at")
        batch_op.drop_column("last_event_at")
