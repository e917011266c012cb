"""conflict predictions between parallel cards, and each repo's conflict policy

Issue 15: LazyAF predicts which active cards' branches collide (with each other or the target
branch) and keeps every prediction, active (``cleared_at`` NULL) or cleared with its reason, so
"conflicts predicted vs met at merge" can be counted. ``repo.conflict_policy`` (warn | hold) says
whether a card whose plan overlaps a running card's files waits; existing repos warn.

Revision ID: 23f1f5f67b36
Revises: 6f28e8914dfa
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "23f1f5f67b36"
down_revision: str | None = "6f28e8914dfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conflict_prediction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("other_card_id", sa.Uuid(), nullable=True),
        sa.Column("target_branch", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("card_sha", sa.String(length=64), nullable=False),
        sa.Column("other_sha", sa.String(length=64), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_conflict_prediction_card_id_card"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_conflict_prediction_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflict_prediction")),
    )
    with op.batch_alter_table("conflict_prediction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conflict_prediction_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_conflict_prediction_other_card_id"), ["other_card_id"], unique=False
        )
        batch_op.create_index(
            "ix_conflict_prediction_repo_id_cleared_at", ["repo_id", "cleared_at"], unique=False
        )
    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conflict_policy", sa.String(length=10), nullable=False, server_default="warn")
        )


def downgrade() -> None:
    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.drop_column("conflict_policy")
    with op.batch_alter_table("conflict_prediction", schema=None) as batch_op:
        batch_op.drop_index("ix_conflict_prediction_repo_id_cleared_at")
        batch_op.drop_index(batch_op.f("ix_conflict_prediction_other_card_id"))
        batch_op.drop_index(batch_op.f("ix_conflict_prediction_card_id"))
    op.drop_table("conflict_prediction")
