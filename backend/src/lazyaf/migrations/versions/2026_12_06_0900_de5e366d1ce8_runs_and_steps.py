"""runs and steps: a card's agent work as a run of ordered steps, each step's attempts its jobs

Issue 12: the orchestration core records a run (a workflow on the card's branch) with its steps;
a job is an attempt of a step (job.step_id). Jobs from before have no step (NULL): what they
were is still in job.kind, and the next start, retry or review round of their card makes a run.

Revision ID: de5e366d1ce8
Revises: 2c0ef07b5f58
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "de5e366d1ce8"
down_revision: str | None = "2c0ef07b5f58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("workflow", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_run_card_id_card"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
    )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_card_id"), ["card_id"], unique=False)

    op.create_table(
        "step",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_step_run_id_run"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step")),
        sa.UniqueConstraint("run_id", "position", name=op.f("uq_step_run_id")),
    )
    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_step_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_step_id"), ["step_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_job_step_id_step"), "step", ["step_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_job_step_id_step"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_job_step_id"))
        batch_op.drop_column("step_id")

    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_step_run_id"))
    op.drop_table("step")

    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_card_id"))
    op.drop_table("run")
