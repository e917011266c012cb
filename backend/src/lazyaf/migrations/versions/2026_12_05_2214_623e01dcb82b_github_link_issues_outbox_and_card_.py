"""github: link, synced issues, outbox; card fields for issues, archiving, auto-start and PRs

Issue 13. ``github_link`` holds a repo's link to GitHub (token and webhook secret sealed by
lazyaf.secretbox, never in clear), its sync rule, cursor, last results and quota;
``github_issue`` remembers every issue synced into a card (one per repo and number, kept when
the card is deleted so the issue does not come back); ``github_outbox`` is the durable queue of
writes to GitHub. Cards gain the issue's number, page, state and labels (one card per issue:
a unique constraint), an archive mark, the auto-start wait, and the pull request's state.
Existing cards get NULLs: they came from no issue.

Revision ID: 623e01dcb82b
Revises: dc9d2985d4a1
Create Date: 2026-12-05 22:14:47.230781
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "623e01dcb82b"
down_revision: str | None = "dc9d2985d4a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "github_link",
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("api_url", sa.String(length=2000), nullable=False),
        sa.Column("git_url", sa.String(length=2000), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("on_approve", sa.String(length=20), nullable=False),
        sa.Column("automation_enabled", sa.Boolean(), nullable=False),
        sa.Column("sync_rule", sa.JSON(), nullable=True),
        sa.Column("sync_since", sa.String(length=40), nullable=True),
        sa.Column("sync_etag", sa.String(length=200), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify", sa.JSON(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rate_limit_limit", sa.Integer(), nullable=True),
        sa.Column("rate_limit_remaining", sa.Integer(), nullable=True),
        sa.Column("rate_limit_reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_github_link_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_link")),
        sa.UniqueConstraint("repo_id", name=op.f("uq_github_link_repo_id")),
    )
    op.create_table(
        "github_issue",
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("full_name", sa.String(length=201), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("html_url", sa.String(length=2000), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("comments", sa.JSON(), nullable=False),
        sa.Column("comment_count", sa.Integer(), nullable=False),
        sa.Column("github_updated_at", sa.String(length=40), nullable=False),
        sa.Column("synced_title", sa.Text(), nullable=False),
        sa.Column("synced_body", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_github_issue_card_id_card"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_github_issue_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_issue")),
        sa.UniqueConstraint("repo_id", "number", name=op.f("uq_github_issue_repo_id")),
    )
    with op.batch_alter_table("github_issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_github_issue_card_id"), ["card_id"], unique=False)

    op.create_table(
        "github_outbox",
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("op", sa.String(length=30), nullable=False),
        sa.Column("idem_key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_github_outbox_card_id_card"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_github_outbox_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_outbox")),
        sa.UniqueConstraint("idem_key", name=op.f("uq_github_outbox_idem_key")),
    )
    with op.batch_alter_table("github_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_github_outbox_repo_id"), ["repo_id"], unique=False)
        batch_op.create_index(
            "ix_github_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("github_issue_number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("github_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("github_issue_state", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("labels", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("start_waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pr_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("github_error", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_card_repo_id"), ["repo_id", "github_issue_number"])


def downgrade() -> None:
    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_card_repo_id"), type_="unique")
        batch_op.drop_column("github_error")
        batch_op.drop_column("pr_status")
        batch_op.drop_column("start_waiting_since")
        batch_op.drop_column("archived_at")
        batch_op.drop_column("labels")
        batch_op.drop_column("github_issue_state")
        batch_op.drop_column("github_url")
        batch_op.drop_column("github_issue_number")

    with op.batch_alter_table("github_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_github_outbox_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_github_outbox_repo_id"))

    op.drop_table("github_outbox")
    with op.batch_alter_table("github_issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_github_issue_card_id"))

    op.drop_table("github_issue")
    op.drop_table("github_link")
