"""learnings: per-repo advice scoped to path globs, its uses in prompts and reviewers' verdicts

Issue 15: agents propose learnings (a fenced block in their final message), reviewers turn
comments into them, people accept, edit and retire them; accepted ones whose paths overlap a
card's go into its prompts. learning_use records each use (metrics count them), learning_mark
one reviewer verdict (helpful or harmful) per learning and card. New tables only.

Revision ID: 6f28e8914dfa
Revises: a7e3c1f4b9d2
Create Date: 2026-12-07 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6f28e8914dfa"
down_revision: str | None = "a7e3c1f4b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "learning",
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.Column("helpful", sa.Integer(), nullable=False),
        sa.Column("harmful", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_learning_card_id_card"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comment.id"], name=op.f("fk_learning_comment_id_comment"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_learning_job_id_job"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_learning_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning")),
    )
    with op.batch_alter_table("learning", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_learning_card_id"), ["card_id"], unique=False)
        batch_op.create_index("ix_learning_repo_id_status", ["repo_id", "status"], unique=False)

    op.create_table(
        "learning_mark",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("learning_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_learning_mark_card_id_card"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["learning_id"],
            ["learning.id"],
            name=op.f("fk_learning_mark_learning_id_learning"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_mark")),
        sa.UniqueConstraint("learning_id", "card_id", name=op.f("uq_learning_mark_learning_id")),
    )
    with op.batch_alter_table("learning_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_learning_mark_card_id"), ["card_id"], unique=False)

    op.create_table(
        "learning_use",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("learning_id", sa.Uuid(), nullable=False),
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_learning_use_card_id_card"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["learning_id"],
            ["learning.id"],
            name=op.f("fk_learning_use_learning_id_learning"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_learning_use_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_use")),
    )
    with op.batch_alter_table("learning_use", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_learning_use_card_id"), ["card_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_learning_use_learning_id"), ["learning_id"], unique=False)
        batch_op.create_index("ix_learning_use_repo_id_used_at", ["repo_id", "used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("learning_use", schema=None) as batch_op:
        batch_op.drop_index("ix_learning_use_repo_id_used_at")
        batch_op.drop_index(batch_op.f("ix_learning_use_learning_id"))
        batch_op.drop_index(batch_op.f("ix_learning_use_card_id"))

    op.drop_table("learning_use")
    with op.batch_alter_table("learning_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_learning_mark_card_id"))

    op.drop_table("learning_mark")
    with op.batch_alter_table("learning", schema=None) as batch_op:
        batch_op.drop_index("ix_learning_repo_id_status")
        batch_op.drop_index(batch_op.f("ix_learning_card_id"))

    op.drop_table("learning")
