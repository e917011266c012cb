"""github commands: deliveries, threads, commands; link settings; card and job fields

Issue 14. ``github_delivery`` records what arrived through each door (webhook, poller, CLI) and
what became of it; ``github_thread`` is one GitHub issue or pull request (one card);
``github_command`` is one ``@lazyaf <verb>`` that passed the gate, with its run and its progress
comment. ``github_link`` gains the command settings (on, phrase, allowlists, write check,
polling) and the comment poller's cursors. Cards gain the command that started them; jobs the
flag that makes their runner take the agent's configuration from the default branch.
Existing links get the defaults (commands on, nobody allowed yet: nothing runs until a user is
allowed); existing cards and jobs get NULL and false.

Revision ID: 2c0ef07b5f58
Revises: 3d8e61b0c5f2
Create Date: 2026-12-05 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c0ef07b5f58"
down_revision: str | None = "3d8e61b0c5f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "github_thread",
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("is_pr", sa.Boolean(), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("pr_url", sa.String(length=2000), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("html_url", sa.String(length=2000), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("head_repo", sa.String(length=201), nullable=True),
        sa.Column("plan_path", sa.String(length=300), nullable=True),
        sa.Column("plan_at", TIME, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_github_thread_card_id_card"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_github_thread_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_thread")),
        sa.UniqueConstraint("repo_id", "number", name=op.f("uq_github_thread_repo_id")),
    )
    with op.batch_alter_table("github_thread", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_github_thread_card_id"), ["card_id"], unique=False)

    op.create_table(
        "github_command",
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("delivery_id", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("comment_key", sa.String(length=60), nullable=True),
        sa.Column("comment_kind", sa.String(length=20), nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("comment_url", sa.String(length=2000), nullable=True),
        sa.Column("comment_at", sa.String(length=40), nullable=True),
        sa.Column("verb", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor_login", sa.String(length=100), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run", sa.JSON(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.Column("progress_comment_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_sha", sa.String(length=64), nullable=True),
        sa.Column("progress_sent_at", TIME, nullable=True),
        sa.Column("progress_final", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_github_command_card_id_card"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_github_command_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["github_thread.id"],
            name=op.f("fk_github_command_thread_id_github_thread"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_command")),
        sa.UniqueConstraint("comment_key", name=op.f("uq_github_command_comment_key")),
    )
    with op.batch_alter_table("github_command", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_github_command_repo_id"), ["repo_id"], unique=False)
        batch_op.create_index("ix_github_command_status_thread_id", ["status", "thread_id"], unique=False)

    op.create_table(
        "github_delivery",
        sa.Column("delivery_id", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("repo_id", sa.Uuid(), nullable=True),
        sa.Column("repository", sa.String(length=201), nullable=True),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("command_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("processed_at", TIME, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["github_command.id"],
            name=op.f("fk_github_delivery_command_id_github_command"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_github_delivery_repo_id_repo"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_github_delivery")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_github_delivery_delivery_id")),
    )
    with op.batch_alter_table("github_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_github_delivery_repo_id"), ["repo_id"], unique=False)
        batch_op.create_index(
            "ix_github_delivery_status_received_at", ["status", "received_at"], unique=False
        )

    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.add_column(sa.Column("github_command", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("github_command_by", sa.String(length=100), nullable=True))

    with op.batch_alter_table("github_link", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("commands_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("trigger_phrase", sa.String(length=40), nullable=False, server_default="@lazyaf")
        )
        batch_op.add_column(sa.Column("allowed_users", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("require_write", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("allowed_bots", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("poll_comments", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("poll_interval_s", sa.Integer(), nullable=False, server_default="30"))
        batch_op.add_column(sa.Column("commands_from", TIME, nullable=True))
        batch_op.add_column(sa.Column("comments_since", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("comments_etag", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("review_comments_since", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("review_comments_etag", sa.String(length=200), nullable=True))

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agent_config_from_base", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The server defaults only fill existing rows; the models give new rows their values.
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.alter_column("agent_config_from_base", server_default=None)
    with op.batch_alter_table("github_link", schema=None) as batch_op:
        for column in (
            "commands_enabled",
            "trigger_phrase",
            "allowed_users",
            "require_write",
            "allowed_bots",
            "poll_comments",
            "poll_interval_s",
        ):
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("agent_config_from_base")

    with op.batch_alter_table("github_link", schema=None) as batch_op:
        for column in (
            "review_comments_etag",
            "review_comments_since",
            "comments_etag",
            "comments_since",
            "commands_from",
            "poll_interval_s",
            "poll_comments",
            "allowed_bots",
            "require_write",
            "allowed_users",
            "trigger_phrase",
            "commands_enabled",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.drop_column("github_command_by")
        batch_op.drop_column("github_command")

    with op.batch_alter_table("github_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_github_delivery_status_received_at")
        batch_op.drop_index(batch_op.f("ix_github_delivery_repo_id"))
    op.drop_table("github_delivery")
    with op.batch_alter_table("github_command", schema=None) as batch_op:
        batch_op.drop_index("ix_github_command_status_thread_id")
        batch_op.drop_index(batch_op.f("ix_github_command_repo_id"))
    op.drop_table("github_command")
    with op.batch_alter_table("github_thread", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_github_thread_card_id"))
    op.drop_table("github_thread")
