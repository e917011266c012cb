"""card: total cost of its jobs

A tile shows what a card's agents cost across all its jobs. The sum is kept on the card as jobs
complete, so a page of cards and every card event carry it without a query per card; existing
cards get the sum of their jobs' costs.

Revision ID: 5c1e2d7a9b30
Revises: 1b04bf60109a
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e2d7a9b30"
down_revision: str | None = "1b04bf60109a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("total_cost_usd", sa.Double(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE card SET total_cost_usd = "
        "COALESCE((SELECT SUM(job.cost_usd) FROM job WHERE job.card_id = card.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.drop_column("total_cost_usd")
