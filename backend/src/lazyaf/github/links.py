"""A repo's link to GitHub: set, read, remove; its errors and its board event.

Services flush, the caller commits. The token is sealed on the way in and never read here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.errors import InvalidInput, NotFound
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import GitHubUpdated
from lazyaf.github.client import DEFAULT_API_URL, normalize_api_url
from lazyaf.github.commands import linksettings
from lazyaf.github.commands.schemas import settings_read
from lazyaf.github.models import GitHubIssue, GitHubLink, GitHubOutbox, OutboxStatus
from lazyaf.github.schemas import (
    GitHubLinkRead,
    GitHubLinkWrite,
    RateLimitRead,
    SyncResult,
    SyncRule,
    VerifyRead,
)
from lazyaf.repos.models import Repo
from lazyaf.secretbox import KeyStore
from lazyaf.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


def web_base(api_url: str) -> str:
    """The web host for an API URL: https://github.com, or the Enterprise server's own."""
    if api_url.rstrip("/") == DEFAULT_API_URL:
        return "https://github.com"
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}"


def default_git_url(api_url: str, owner: str, name: str) -> str:
    return f"{web_base(api_url)}/{owner}/{name}.git"


async def get(session: AsyncSession, repo_id: uuid.UUID) -> GitHubLink | None:
    link: GitHubLink | None = await session.scalar(select(GitHubLink).where(GitHubLink.repo_id == repo_id))
    return link


async def require(session: AsyncSession, repo: Repo) -> GitHubLink:
    """The repo's link; a 404 that says how to make one."""
    link = await get(session, repo.id)
    if link is None:
        raise NotFound(
            f"Repo '{repo.name}' is not linked to GitHub; link it in its settings, with "
            f"PUT /api/repos/{repo.id}/github, or with `lazyaf github link {repo.name} OWNER/NAME`."
        )
    return link


async def put(
    *, session: AsyncSession, settings: Settings, secrets: KeyStore, repo: Repo, data: GitHubLinkWrite
) -> GitHubLink:
    """Create or replace the repo's link; a token is needed unless the repo is linked already."""
    link = await get(session, repo.id)
    if link is None and data.token is None:
        raise InvalidInput(
            f"Linking repo '{repo.name}' needs a token with write access to {data.owner}/{data.name}; "
            "create one on GitHub (Settings → Developer settings) and send it as token."
        )
    same = link is not None and (link.owner.lower(), link.name.lower()) == (
        data.owner.lower(),
        data.name.lower(),
    )
    # Left out: kept from the link when it points at the same repository, else the defaults.
    api_url = normalize_api_url(data.api_url or (link.api_url if link and same else settings.github_api_url))
    git_url = data.git_url or (
        link.git_url
        if link and same and not data.api_url
        else default_git_url(api_url, data.owner, data.name)
    )
    if link is None:
        link = GitHubLink(repo_id=repo.id, owner=data.owner, name=data.name, api_url=api_url, git_url=git_url)
        session.add(link)
    else:
        moved = (link.owner.lower(), link.name.lower()) != (data.owner.lower(), data.name.lower())
        if moved or link.api_url != api_url:
            await _forget_issues(session, repo.id, keep=None if link.api_url != api_url else data)
            linksettings.forget_cursors(link)
        link.owner, link.name, link.api_url, link.git_url = data.owner, data.name, api_url, git_url
        link.verify = link.verified_at = None
    keyring = secrets.keyring(create=True) if data.token or data.webhook_secret else None
    if data.token is not None and keyring is not None:
        link.token = keyring.seal(data.token.get_secret_value())
    if data.webhook_secret is not None and keyring is not None:
        link.webhook_secret = keyring.seal(data.webhook_secret.get_secret_value())
    if data.on_approve is not None:
        link.on_approve = data.on_approve
    link.sync_since = link.sync_etag = None  # the next sync looks at everything again
    link.last_error = link.last_error_at = None
    await session.flush()
    await resume_held(session, repo.id)
    return link


async def _forget_issues(session: AsyncSession, repo_id: uuid.UUID, keep: GitHubLinkWrite | None) -> None:
    """The link now points at another repository: its issue numbers mean other issues there.

    Cards keep their issue's page (``github_url``) but no longer claim its number.
    """
    query = select(GitHubIssue).where(GitHubIssue.repo_id == repo_id)
    for row in (await session.scalars(query)).all():
        if keep is not None and row.full_name.lower() == f"{keep.owner}/{keep.name}".lower():
            continue
        if row.card_id is not None:
            await session.execute(update(Card).where(Card.id == row.card_id).values(github_issue_number=None))
        await session.delete(row)
    await session.flush()


async def delete(*, session: AsyncSession, link: GitHubLink) -> None:
    """Unlink: the token and rule go; cards keep their issue links; pending writes are dropped."""
    await session.execute(
        update(GitHubOutbox)
        .where(GitHubOutbox.repo_id == link.repo_id, GitHubOutbox.status != OutboxStatus.DONE)
        .values(
            status=OutboxStatus.HELD, last_error="The repo was unlinked from GitHub; link it again to resume."
        )
    )
    await session.delete(link)
    await session.flush()


async def resume_held(session: AsyncSession, repo_id: uuid.UUID) -> int:
    """Writes held on an error go back in the queue (the link was fixed); how many."""
    result = await session.execute(
        update(GitHubOutbox)
        .where(GitHubOutbox.repo_id == repo_id, GitHubOutbox.status == OutboxStatus.HELD)
        .values(status=OutboxStatus.PENDING, next_attempt_at=utcnow(), attempts=0)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count:
        session.info["github_outbox"] = True  # the outbox wakes once this commits
    return count


def record_error(link: GitHubLink, message: str) -> None:
    link.last_error = message
    link.last_error_at = utcnow()


async def to_read(session: AsyncSession, link: GitHubLink) -> GitHubLinkRead:
    counts = dict(
        (
            await session.execute(
                select(GitHubOutbox.status, func.count())
                .where(
                    GitHubOutbox.repo_id == link.repo_id,
                    GitHubOutbox.status.in_([OutboxStatus.PENDING, OutboxStatus.RUNNING, OutboxStatus.HELD]),
                )
                .group_by(GitHubOutbox.status)
            )
        ).all()
    )
    rate = None
    if (
        link.rate_limit_remaining is not None
        and link.rate_limit_limit is not None
        and link.rate_limit_reset_at
    ):
        rate = RateLimitRead(
            limit=link.rate_limit_limit,
            remaining=link.rate_limit_remaining,
            reset_at=link.rate_limit_reset_at,
        )
    return GitHubLinkRead(
        repo_id=link.repo_id,
        owner=link.owner,
        name=link.name,
        html_url=f"{web_base(link.api_url)}/{link.owner}/{link.name}",
        api_url=link.api_url,
        git_url=link.git_url,
        has_token=link.token is not None,
        has_webhook_secret=link.webhook_secret is not None,
        on_approve=link.on_approve,
        automation_enabled=link.automation_enabled,
        sync_rule=SyncRule.model_validate(link.sync_rule) if link.sync_rule else None,
        last_sync_at=link.last_sync_at,
        last_sync=SyncResult.model_validate(link.last_sync) if link.last_sync else None,
        last_error=link.last_error,
        last_error_at=link.last_error_at,
        verify=VerifyRead.model_validate(link.verify) if link.verify else None,
        verified_at=link.verified_at,
        rate_limit=rate,
        outbox_pending=int(counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.RUNNING, 0)),
        outbox_held=int(counts.get(OutboxStatus.HELD, 0)),
        commands=settings_read(link),
        created_at=link.created_at,
        updated_at=link.updated_at,
    )


async def changed(session: AsyncSession, link: GitHubLink) -> GitHubLinkRead:
    """Record the ``github_updated`` board event for the link (sent once the session commits)."""
    await session.flush()
    read = await to_read(session, link)
    EventBus.record(session, GitHubUpdated(repo_id=link.repo_id, github=read))
    return read


def unlinked(session: AsyncSession, repo_id: uuid.UUID) -> None:
    EventBus.record(session, GitHubUpdated(repo_id=repo_id, github=None))
