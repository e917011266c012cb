"""workflows: a run's review_plan and loop limit, per-step git progress, follow-up prompts, a
repo's default workflow and test paths

Issue 12 part 2: runs of workflow presets (plan, build, test, verify, iterate, loop steps).
Existing runs and steps keep working: review_plan false, max_iterations 10, no step stats (they
were recorded on their jobs), repos with no default workflow run ``build``.

Revision ID: 4b7e2a91c6d3
Revises: de5e366d1ce8
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b7e2a91c6d3"
down_revision: str | None = "de5e366d1ce8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP_COLUMNS = (
    "iteration",
    "prompt",
    "start_sha",
    "head_sha",
    "commits",
    "files_changed",
    "lines_added",
    "lines_removed",
)


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_plan", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("max_iterations", sa.Integer(), nullable=False, server_default="10"))
        batch_op.add_column(sa.Column("plan_path", sa.String(length=300), nullable=True))
        batch_op.add_column(
            sa.Column("agent_config_from_base", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.alter_column("review_plan", server_default=None)
        batch_op.alter_column("max_iterations", server_default=None)
        batch_op.alter_column("agent_config_from_base", server_default=None)

    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("iteration", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prompt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("start_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("head_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("commits", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("files_changed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lines_added", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lines_removed", sa.Integer(), nullable=True))

    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_workflow", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("test_paths", sa.JSON(), nullable=True))

    op.create_table(
        "followup",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_followup_card_id_card"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_followup_job_id_job"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup")),
    )
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followup_card_id"), ["card_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followup_card_id"))
    op.drop_table("followup")

    with op.batch_alter_table("repo", schema=None) as batch_op:
        batch_op.drop_column("test_paths")
        batch_op.drop_column("default_workflow")

    with op.batch_alter_table("step", schema=None) as batch_op:
        for column in reversed(STEP_COLUMNS):
            batch_op.drop_column(column)

    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("agent_config_from_base")
        batch_op.drop_column("plan_path")
        batch_op.drop_column("max_iterations")
        batch_op.drop_column("review_plan")
