"""pool keeps its count: desired runners per kind, restarts and exit reasons per pool runner

Issue 10: the pool stores how many runners of each kind the user asked for (``pool_target``) and
restarts a pool runner that exits; its row keeps how often it was restarted, how its last process
ended, the tail of its log, and whether the pool gave up on it. Existing pool runners (a process
id or a container id) become ``pooled``, and each kind's target is the number of them.

Revision ID: 7a3f9c2e4b18
Revises: 7a3c5e9d1f42
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3f9c2e4b18"
down_revision: str | None = "7a3c5e9d1f42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    target = op.create_table(
        "pool_target",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_pool_target")),
    )
    with op.batch_alter_table("runner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pooled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_exit", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("last_exit_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("log_tail", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("restart_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))

    runner = sa.table(
        "runner",
        sa.column("kind", sa.String()),
        sa.column("pid", sa.Integer()),
        sa.column("container_id", sa.String()),
        sa.column("pooled", sa.Boolean()),
    )
    connection = op.get_bind()
    managed = sa.or_(runner.c.pid.is_not(None), runner.c.container_id.is_not(None))
    connection.execute(sa.update(runner).where(managed).values(pooled=True))
    counts = connection.execute(
        sa.select(runner.c.kind, sa.func.count()).where(runner.c.pooled == sa.true()).group_by(runner.c.kind)
    ).all()
    now = sa.func.current_timestamp()
    for kind, count in counts:
        connection.execute(sa.insert(target).values(kind=kind, count=count, updated_at=now))


def downgrade() -> None:
    with op.batch_alter_table("runner", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("restart_at")
        batch_op.drop_column("log_tail")
        batch_op.drop_column("last_exit_at")
        batch_op.drop_column("last_exit")
        batch_op.drop_column("restarts")
        batch_op.drop_column("pooled")
    op.drop_table("pool_target")
