"""repo names in clone URLs: aliases of renamed repos, and names that cannot be URLs renamed

Issue 10: ``/git/<name>.git`` clones a repo by name, and a renamed repo keeps answering to its old
name (``repo_alias``) until another repo takes it. A name shaped like a repo id would be read as
an id, and one ending in ``.git`` reads as another repo's URL (``/git/x.git.git``), so both are
refused from now on; rows that have one are renamed here (``repo-<8 hex>``, or the name without
``.git``, with ``-2``, ``-3``… when taken). The downgrade drops the aliases and keeps the new names.

Revision ID: 3d8e61b0c5f2
Revises: 7a3f9c2e4b18
Create Date: 2026-12-06 09:10:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d8e61b0c5f2"
down_revision: str | None = "7a3f9c2e4b18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of the rule in lazyaf.repos.schemas as it was when this migration was written.
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _fits(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and not _UUID.fullmatch(name) and not name.lower().endswith(".git")


def _stem(name: str) -> str:
    while name.lower().endswith(".git"):
        name = name[:-4]
    if _UUID.fullmatch(name):
        return f"repo-{name.replace('-', '')[:8].lower()}"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip("._-")[:90]
    return cleaned or "repo"


def upgrade() -> None:
    op.create_table(
        "repo_alias",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("repo_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repo.id"], name=op.f("fk_repo_alias_repo_id_repo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_repo_alias")),
    )
    with op.batch_alter_table("repo_alias", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repo_alias_repo_id"), ["repo_id"], unique=False)

    repo = sa.table("repo", sa.column("id", sa.Uuid()), sa.column("name", sa.String()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(repo.c.id, repo.c.name)).all()
    taken = {name for _, name in rows}
    for repo_id, name in rows:
        if _fits(name):
            continue
        stem = _stem(name)
        candidates = (stem, *(f"{stem}-{n}" for n in range(2, 10_000)))
        new = next(c for c in candidates if c not in taken and _fits(c))
        taken.add(new)
        connection.execute(sa.update(repo).where(repo.c.id == repo_id).values(name=new))


def downgrade() -> None:
    with op.batch_alter_table("repo_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repo_alias_repo_id"))
    op.drop_table("repo_alias")
