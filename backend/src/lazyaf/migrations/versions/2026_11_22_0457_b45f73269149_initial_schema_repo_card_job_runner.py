"""initial schema: repo, card, job, runner

The card -> job and runner -> job foreign keys close cycles (a job belongs to a card and a
runner; a card and a runner point at their current job), so they are added after all four
tables exist, through batch mode so SQLite gets them too.

Revision ID: b45f73269149
Revises:
Create Date: 2026-11-22 04:57:56.645139
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b45f73269149"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "repo",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("remote_url", sa.String(length=2000), nullable=True),
        sa.Column("default_branch", sa.String(length=255), nullable=False),
        sa.Column("is_ingested", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repo")),
        sa.UniqueConstraint("name", name=op.f("uq_repo_name")),
    )
    op.create_table(
        "card",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("branch_name", sa.String(length=255), nullable=True),
        sa.Column("pr_url", sa.String(length=2000), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_card_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card")),
    )
    op.create_index("ix_card_repo_id_status_position", "card", ["repo_id", "status", "position"])
    op.create_table(
        "runner",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("container_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_job_id", sa.Uuid(), nullable=True),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runner")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("runner_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_job_card_id_card"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["runner_id"], ["runner.id"], name=op.f("fk_job_runner_id_runner"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_card_id"), "job", ["card_id"])
    op.create_index(op.f("ix_job_status"), "job", ["status"])
    with op.batch_alter_table("card") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_card_job_id_job"), "job", ["job_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("runner") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_runner_current_job_id_job"), "job", ["current_job_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("runner") as batch_op:
        batch_op.drop_constraint(op.f("fk_runner_current_job_id_job"), type_="foreignkey")
    with op.batch_alter_table("card") as batch_op:
        batch_op.drop_constraint(op.f("fk_card_job_id_job"), type_="foreignkey")
    op.drop_index(op.f("ix_job_status"), table_name="job")
    op.drop_index(op.f("ix_job_card_id"), table_name="job")
    op.drop_table("job")
    op.drop_table("runner")
    op.drop_index("ix_card_repo_id_status_position", table_name="card")
    op.drop_table("card")
    op.drop_table("repo")
