"""review: comments, activity, merge and verification settings

The review loop (issue 4): review comments anchored to diff lines, a card activity log for the
timeline, per-card attempt limits, conflict and merge results on cards, per-repo merge strategy
and verification commands, verification results on jobs. Existing rows get defaults.

Revision ID: 1b04bf60109a
Revises: 09534ce14609
Create Date: 2026-11-22 06:06:52.934036
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1b04bf60109a"
down_revision: str | None = "09534ce14609"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_card_activity_card_id_card"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_activity")),
    )
    with op.batch_alter_table("card_activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_activity_card_id"), ["card_id"], unique=False)

    op.create_table(
        "comment",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("snippet", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_comment_card_id_card"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_comment_job_id_job"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comment_card_id"), ["card_id"], unique=False)

    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="3"))
        batch_op.add_column(sa.Column("conflict_files", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("merge_sha", sa.String(length=64), nullable=True))

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("resume_session", sa.String(length=100), nullable=True))

    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("merge_strategy", sa.String(length=20), nullable=False, server_default="auto")
        )
        batch_op.add_column(sa.Column("setup_command", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("lint_command", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("test_command", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("build_command", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.drop_column("build_command")
        batch_op.drop_column("test_command")
        batch_op.drop_column("lint_command")
        batch_op.drop_column("setup_command")
        batch_op.drop_column("merge_strategy")

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("resume_session")
        batch_op.drop_column("verification")

    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.drop_column("merge_sha")
        batch_op.drop_column("conflict_files")
        batch_op.drop_column("max_attempts")

    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_card_id"))

    op.drop_table("comment")
    with op.batch_alter_table("card_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_activity_card_id"))

    op.drop_table("card_activity")
