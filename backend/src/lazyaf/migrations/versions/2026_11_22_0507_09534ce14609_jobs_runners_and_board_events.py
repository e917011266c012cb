"""jobs, runners and board events

Jobs gain what the runner protocol needs (priority copied from the card for the claim query,
prompt, branch, per-attempt token hash, phase, outcome and usage); job_event holds each
attempt's normalized agent events; board_event is the outbox behind /ws sequence numbers.
New non-null columns get server defaults so existing rows stay valid.

Revision ID: 09534ce14609
Revises: b45f73269149
Create Date: 2026-11-22 05:07:05.717889
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "09534ce14609"
down_revision: str | None = "b45f73269149"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board_event",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_board_event")),
    )
    op.create_table(
        "job_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False, server_default="build"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_event_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_event")),
        sa.UniqueConstraint("job_id", "attempt", "seq", name=op.f("uq_job_event_job_id")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="build"))
        batch_op.add_column(sa.Column("agent", sa.String(length=50), nullable=False, server_default="claude"))
        batch_op.add_column(sa.Column("prompt", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("branch", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("base_branch", sa.String(length=255), nullable=False, server_default="main")
        )
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("phase", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("agent_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("exit_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("base_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("head_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("commits", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("files_changed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lines_added", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lines_removed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("session_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("cost_usd", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("input_tokens", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("output_tokens", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("num_turns", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duration_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        )
        batch_op.create_index(
            "ix_job_status_priority_created_at", ["status", "priority", "created_at"], unique=False
        )

    with op.batch_alter_table("runner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agents", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("version", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runner", schema=None) as batch_op:
        batch_op.drop_column("pid")
        batch_op.drop_column("version")
        batch_op.drop_column("agents")

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status_priority_created_at")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("duration_ms")
        batch_op.drop_column("num_turns")
        batch_op.drop_column("output_tokens")
        batch_op.drop_column("input_tokens")
        batch_op.drop_column("cost_usd")
        batch_op.drop_column("session_id")
        batch_op.drop_column("lines_removed")
        batch_op.drop_column("lines_added")
        batch_op.drop_column("files_changed")
        batch_op.drop_column("commits")
        batch_op.drop_column("head_sha")
        batch_op.drop_column("base_sha")
        batch_op.drop_column("exit_code")
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("agent_started_at")
        batch_op.drop_column("phase")
        batch_op.drop_column("token_hash")
        batch_op.drop_column("base_branch")
        batch_op.drop_column("branch")
        batch_op.drop_column("prompt")
        batch_op.drop_column("agent")
        batch_op.drop_column("kind")
        batch_op.drop_column("priority")

    op.drop_table("job_event")
    op.drop_table("board_event")
