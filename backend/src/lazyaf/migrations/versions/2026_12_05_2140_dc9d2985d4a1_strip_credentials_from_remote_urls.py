"""strip credentials from stored remote URLs

Remote URLs are stored without credentials from now on (issue 9): ``https://user:token@host/...``
becomes ``https://host/...``; ssh URLs keep their user name and lose a password. This removes the
credentials from rows written before. Data only; the downgrade cannot bring them back (and must not).

Revision ID: dc9d2985d4a1
Revises: 5e1c0d7a9b42
Create Date: 2026-12-05 21:40:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dc9d2985d4a1"
down_revision: str | None = "5e1c0d7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of lazyaf.validation.strip_credentials as it was when this migration was written
# (migrations do not import the app).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TOKEN_SCHEMES = {"http", "https", "ftp", "ftps"}


def _strip(url: str) -> str:
    match = _SCHEME.match(url)
    if match is None:
        return url
    scheme = match.group(1).lower()
    start = match.end()
    end = len(url)
    for sep in "/?#":
        found = url.find(sep, start)
        if found != -1:
            end = min(end, found)
    userinfo, at, hostport = url[start:end].rpartition("@")
    if not at:
        return url
    user = userinfo.partition(":")[0]
    kept = "" if scheme in _TOKEN_SCHEMES or not user else f"{user}@"
    return url[:start] + kept + hostport + url[end:]


def upgrade() -> None:
    repo = sa.table("repo", sa.column("id", sa.Uuid()), sa.column("remote_url", sa.String()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(repo.c.id, repo.c.remote_url).where(repo.c.remote_url.is_not(None)))
    for repo_id, url in rows.all():
        stripped = _strip(url)
        if stripped != url:
            connection.execute(sa.update(repo).where(repo.c.id == repo_id).values(remote_url=stripped))


def downgrade() -> None:
    pass
