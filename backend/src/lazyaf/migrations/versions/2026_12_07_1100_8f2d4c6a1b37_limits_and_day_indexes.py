"""limits: budgets and limits per scope (global, a repo); job start and end indexed for the day's counts

Issue 15: the scheduler holds queued work that would exceed a limit. The limits live in
limit_set (one row per scope: "global", or a repo's id); today's agent runs are counted by
job.started_at and today's spend summed by job.completed_at, so both are indexed; the queue is
read a priority at a time, oldest first (status, priority, queued_at, id).

Revision ID: 8f2d4c6a1b37
Revises: 5b1e0c7d9a63
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f2d4c6a1b37"
down_revision: str | None = "5b1e0c7d9a63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "limit_set",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("repo_id", sa.Uuid(), nullable=True),
        sa.Column("max_running", sa.Integer(), nullable=True),
        sa.Column("max_running_per_repo", sa.Integer(), nullable=True),
        sa.Column("daily_usd", sa.Double(), nullable=True),
        sa.Column("daily_agent_runs", sa.Integer(), nullable=True),
        sa.Column("per_card_usd", sa.Double(), nullable=True),
        sa.Column("cooldown_s", sa.Integer(), nullable=True),
        sa.Column("failure_cooldown_after", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_limit_set_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_limit_set")),
        sa.UniqueConstraint("repo_id", name=op.f("uq_limit_set_repo_id")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_completed_at"), ["completed_at"], unique=False)
        batch_op.create_index(
            "ix_job_status_priority_queued_at_id", ["status", "priority", "queued_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status_priority_queued_at_id")
        batch_op.drop_index(batch_op.f("ix_job_completed_at"))
        batch_op.drop_index(batch_op.f("ix_job_started_at"))
    op.drop_table("limit_set")
