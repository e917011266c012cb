"""review loop: what a done card merged, and rounds that changed nothing

Issue 11: a done card keeps its diff and commits (the branch head approve merged and its merge
base then), and a job records that its agent left the branch unchanged. Existing rows get no
merged head (their diff falls back to the branch) and no_changes false.

Revision ID: 5e1c0d7a9b42
Revises: 5c1e2d7a9b30
Create Date: 2026-11-23 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1c0d7a9b42"
down_revision: str | None = "5c1e2d7a9b30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_head_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("merge_base_sha", sa.String(length=64), nullable=True))

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("no_changes", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("no_changes")

    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.drop_column("merge_base_sha")
        batch_op.drop_column("merged_head_sha")
