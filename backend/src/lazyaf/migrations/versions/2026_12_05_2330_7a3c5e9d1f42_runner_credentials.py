"""runner: the model credentials a runner finds on its own

A runner reports in its hello, per agent, the kind of model credential it finds without the
server (its own environment variable, its user's Claude Code login) and a login's expiry: never
a value. ``GET /api/agents`` and the check before a start read it. Existing rows get ``{}``
(nothing reported yet; runners report again when they reconnect).

Revision ID: 7a3c5e9d1f42
Revises: 623e01dcb82b
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3c5e9d1f42"
down_revision: str | None = "623e01dcb82b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("runner", schema=None) as batch_op:
        batch_op.drop_column("credentials")
