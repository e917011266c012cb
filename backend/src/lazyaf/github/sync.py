"""Issue sync: a repo's GitHub issues matching its rule become cards, one per issue, kept in step.

One sync (the poller's, or ``POST …/github/sync/run``):

1. Reads the link and rule, then asks GitHub with no database transaction open: a conditional
   GET of the first page (the ETag of the last good sync, kept in the database, so a 304 — no
   change, no quota spent — ends the sync at once), then every page by the ``Link`` header, pull
   requests dropped only after paging (a page shortened by filtering is not the last one),
   then the comments of issues that changed (the agent's prompt carries them).
2. Applies everything in one transaction: new issue → card (or skipped: excluded label, closed,
   or its card was deleted); changed issue → title and body follow it while the card still shows
   what the sync last wrote (nobody edited it), labels and state always; closed → a To Do card is
   archived, others are marked; reopened → an archived card comes back.
3. Moves the cursor: later syncs ask only for issues updated since the newest one seen, in any
   state, so closures are seen too.

Text from GitHub is sanitized on the way in (``sanitize``). Syncs of one repo run one at a time;
the unique (repo, number) constraints make a duplicate card impossible even so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import ActivityKind, Card, CardStatus
from lazyaf.cards.schemas import CardCreate
from lazyaf.db.engine import session_scope
from lazyaf.errors import Conflict
from lazyaf.github import links
from lazyaf.github.client import GitHubClient
from lazyaf.github.clients import observe_quota
from lazyaf.github.errors import GitHubError
from lazyaf.github.models import GitHubIssue, GitHubLink
from lazyaf.github.sanitize import sanitize, sanitize_line
from lazyaf.github.schemas import SyncResult, SyncRule
from lazyaf.orchestration import announce
from lazyaf.repos.models import Repo

log = structlog.get_logger(__name__)

MAX_COMMENTS = 30  # the newest ones; the prompt says how many were left out
COMMENT_CHARS = 4_000
BODY_CHARS = 40_000


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fetched:
    number: int
    title: str
    body: str
    state: str
    labels: list[str]
    html_url: str
    author: str | None
    updated_at: str  # GitHub's ISO time, compared as text (GitHub always sends …Z)
    comment_count: int
    comments: list[dict[str, Any]] | None = None  # None: not fetched, keep what is stored


@dataclass
class Plan:
    """What a sync needs from the database before it talks to GitHub."""

    link_id: uuid.UUID
    owner: str
    name: str
    rule: SyncRule
    since: str | None
    etag: str | None
    known: dict[int, tuple[str, int, bool]] = field(
        default_factory=dict
    )  # number → (updated, comments, card)


async def run(service: Any, repo_id: uuid.UUID) -> SyncResult:
    """Sync the repo's issues into cards now; raises a GitHubError (recorded on the link) on failure."""
    async with service.lock(repo_id):
        async with session_scope(service.sessionmaker) as session:
            repo = await session.get(Repo, repo_id)
            assert repo is not None
            link = await links.require(session, repo)
            plan = await _plan(session, link, repo)
            client = service.clients.for_link(link)
        try:
            fetched, etag, newest = await _fetch(client, plan, service.settings.github_page_size)
        except GitHubError as exc:
            await _record_failure(service, repo_id, client, exc)
            raise
        async with session_scope(service.sessionmaker) as session:
            current = await session.get(GitHubLink, plan.link_id)
            if current is None:  # unlinked meanwhile
                return SyncResult()
            link, result = current, SyncResult()
            if fetched is not None:
                result = await _apply(session, repo_id, link, plan, fetched)
                link.sync_etag = etag
                link.sync_since = newest or link.sync_since
            link.last_sync_at = utcnow()
            link.last_sync = result.model_dump()
            link.last_error = link.last_error_at = None
            observe_quota(link, client)
            await links.changed(session, link)
    log.info("github_synced", repo_id=str(repo_id), **result.model_dump())
    return result


async def _plan(session: AsyncSession, link: GitHubLink, repo: Repo) -> Plan:
    if not link.sync_rule:
        raise Conflict(
            f"Repo '{repo.name}' has no sync rule yet; set one (PUT /api/repos/{repo.id}/github/sync) first."
        )
    rows = (await session.execute(select(GitHubIssue).where(GitHubIssue.repo_id == repo.id))).scalars()
    return Plan(
        link_id=link.id,
        owner=link.owner,
        name=link.name,
        rule=SyncRule.model_validate(link.sync_rule),
        since=link.sync_since,
        etag=link.sync_etag,
        known={r.number: (r.github_updated_at, r.comment_count, r.card_id is not None) for r in rows},
    )


async def _record_failure(service: Any, repo_id: uuid.UUID, client: GitHubClient, exc: GitHubError) -> None:
    async with session_scope(service.sessionmaker) as session:
        link = await links.get(session, repo_id)
        if link is None:
            return
        links.record_error(link, exc.detail)
        observe_quota(link, client)
        await links.changed(session, link)
    log.warning("github_sync_failed", repo_id=str(repo_id), error=exc.detail)


def _query(plan: Plan, milestone: str | None, page_size: int) -> dict[str, Any]:
    rule = plan.rule
    params: dict[str, Any] = {
        "state": "all" if plan.since else rule.state,
        "sort": "updated",
        "direction": "desc",
        "per_page": page_size,
    }
    if rule.labels:
        params["labels"] = ",".join(rule.labels)
    if rule.assignee:
        params["assignee"] = rule.assignee
    if milestone:
        params["milestone"] = milestone
    if plan.since:
        params["since"] = plan.since
    return params


async def _fetch(
    client: GitHubClient, plan: Plan, page_size: int
) -> tuple[list[Fetched] | None, str | None, str | None]:
    """(issues, or None when nothing changed; the first page's ETag; the newest updated_at seen)."""
    milestone = await _milestone(client, plan)
    params = _query(plan, milestone, page_size)
    probe = await client.get_conditional(f"/repos/{plan.owner}/{plan.name}/issues", params, etag=plan.etag)
    if not probe.modified:
        return None, plan.etag, None
    listed = {k: v for k, v in params.items() if k != "per_page"}
    issues = await client.list_issues(plan.owner, plan.name, per_page=page_size, **listed)
    excluded = {label.lower() for label in plan.rule.exclude_labels}
    fetched = []
    for issue in issues:
        labels = [label if isinstance(label, str) else (label.name or "") for label in issue.labels]
        updated = issue.updated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fetched.append(
            Fetched(
                number=issue.number,
                title=issue.title,
                body=issue.body or "",
                state=issue.state,
                labels=[sanitize_line(name, limit=100) for name in labels if name],
                html_url=issue.html_url,
                author=issue.user.login if issue.user else None,
                updated_at=updated,
                comment_count=issue.comments,
            )
        )
    for item in fetched:
        known = plan.known.get(item.number)
        will_be_card = item.state == "open" or plan.rule.state == "all"
        if item.comment_count == 0:
            item.comments = []
        elif not {name.lower() for name in item.labels} & excluded and (
            (known is None and will_be_card)
            or (
                known is not None
                and known[2]
                and (known[0], known[1]) != (item.updated_at, item.comment_count)
            )
        ):
            # Comments only for cards (new or changed): the agent's prompt carries them.
            item.comments = await _comments(client, plan, item.number, page_size)
    newest = max((item.updated_at for item in fetched), default=None)
    return fetched, probe.etag, newest


async def _milestone(client: GitHubClient, plan: Plan) -> str | None:
    """The rule's milestone as GitHub's filter wants it: a number, '*' or 'none' (titles looked up)."""
    wanted = plan.rule.milestone
    if wanted is None or wanted in ("*", "none") or wanted.isdigit():
        return wanted
    found = await client.paginate(
        client.rest.issues.async_list_milestones, owner=plan.owner, repo=plan.name, state="all", per_page=100
    )
    for milestone in found:
        if milestone.title == wanted:
            return str(milestone.number)
    raise GitHubError(
        f"{plan.owner}/{plan.name} has no milestone titled '{wanted}'; fix the sync rule's milestone."
    )


async def _comments(client: GitHubClient, plan: Plan, number: int, page_size: int) -> list[dict[str, Any]]:
    found = await client.paginate(
        client.rest.issues.async_list_comments,
        owner=plan.owner,
        repo=plan.name,
        issue_number=number,
        per_page=page_size,
    )
    return [
        {
            "author": sanitize_line(c.user.login if c.user else "ghost", limit=40),
            "body": sanitize(c.body, limit=COMMENT_CHARS),
            "at": c.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for c in found[-MAX_COMMENTS:]
    ]


async def _apply(
    session: AsyncSession, repo_id: uuid.UUID, link: GitHubLink, plan: Plan, fetched: list[Fetched]
) -> SyncResult:
    repo = await session.get(Repo, repo_id)
    assert repo is not None
    rule = plan.rule
    excluded = {label.lower() for label in rule.exclude_labels}
    rows = {
        r.number: r
        for r in (await session.execute(select(GitHubIssue).where(GitHubIssue.repo_id == repo_id))).scalars()
    }
    result = SyncResult()
    for item in sorted(fetched, key=lambda i: i.number):
        is_excluded = bool({name.lower() for name in item.labels} & excluded)
        row = rows.get(item.number)
        if row is None:
            if is_excluded or (item.state == "closed" and rule.state == "open"):
                result.skipped += 1
                continue
            rows[item.number] = await _create(session, repo, link, rule, item)
            result.created += 1
            continue
        card = await session.get(Card, row.card_id) if row.card_id else None
        if card is None:
            result.skipped += 1
            _remember(row, item, row.synced_title, row.synced_body)
            continue
        outcome = _update(session, card, row, item, is_excluded)
        if outcome == "closed":
            if card.status == CardStatus.TODO and card.archived_at is None:
                await _archive(session, card)
            result.closed += 1
        elif outcome == "reopened":
            if card.archived_at is not None:
                await _unarchive(session, card)
            result.updated += 1
        elif outcome == "updated":
            result.updated += 1
        if outcome != "unchanged":
            announce.card_changed(session, card)
    await session.flush()
    return result


def _title(item: Fetched) -> str:
    return sanitize_line(item.title, limit=200) or f"Issue #{item.number}"


async def _create(
    session: AsyncSession, repo: Repo, link: GitHubLink, rule: SyncRule, item: Fetched
) -> GitHubIssue:
    title, body = _title(item), sanitize(item.body, limit=BODY_CHARS)
    card = await card_service.create(
        session=session, repo=repo, card_in=CardCreate(title=title, description=body)
    )
    card.github_issue_number = item.number
    card.github_url = item.html_url
    card.github_issue_state = item.state
    card.labels = item.labels
    if rule.auto_start and item.state == "open" and not _excluded(item, rule):
        card.start_waiting_since = utcnow()
    row = GitHubIssue(
        repo_id=repo.id, card_id=card.id, full_name=link.full_name, number=item.number, comments=[]
    )
    _remember(row, item, title, body)
    session.add(row)
    synced = {"event": "synced", "number": item.number, "url": item.html_url}
    announce.activity(session, card, ActivityKind.GITHUB, synced)
    await session.flush()
    if item.state == "closed":
        await _archive(session, card)
    announce.card_changed(session, card)
    return row


def _excluded(item: Fetched, rule: SyncRule) -> bool:
    return bool({n.lower() for n in item.labels} & {n.lower() for n in rule.exclude_labels})


def _remember(row: GitHubIssue, item: Fetched, synced_title: str, synced_body: str) -> None:
    row.title = _title(item)
    row.body = sanitize(item.body, limit=BODY_CHARS)
    row.state = item.state
    row.labels = item.labels
    row.html_url = item.html_url
    row.author = item.author
    row.github_updated_at = item.updated_at
    row.comment_count = item.comment_count
    if item.comments is not None:
        row.comments = item.comments
    row.synced_title, row.synced_body = synced_title, synced_body


def _update(session: AsyncSession, card: Card, row: GitHubIssue, item: Fetched, is_excluded: bool) -> str:
    """Bring the card in step with the issue: 'unchanged', 'updated', 'closed' or 'reopened'."""
    title, body = _title(item), sanitize(item.body, limit=BODY_CHARS)
    before = (card.title, card.description, card.labels, card.github_issue_state, row.comments, row.state)
    if card.title == row.synced_title:
        card.title = title
    if card.description == row.synced_body:
        card.description = body
    card.labels = item.labels
    card.github_url = item.html_url
    previous_state = card.github_issue_state
    card.github_issue_state = item.state
    if is_excluded or item.state == "closed":
        card.start_waiting_since = None
    _remember(row, item, title, body)
    if item.state != previous_state:
        event = "closed" if item.state == "closed" else "reopened"
        announce.activity(session, card, ActivityKind.GITHUB, {"event": event, "number": item.number})
        return event
    after = (card.title, card.description, card.labels, card.github_issue_state, row.comments, row.state)
    return "updated" if after != before else "unchanged"


async def _archive(session: AsyncSession, card: Card) -> None:
    """Take a To Do card off the board (its issue was closed) and close the gap in its column."""
    card.archived_at = utcnow()
    card.start_waiting_since = None
    await session.flush()
    card_service.renumber(await card_service.column(session, card.repo_id, CardStatus.TODO))


async def _unarchive(session: AsyncSession, card: Card) -> None:
    """Put an archived card back at the bottom of To Do (its issue was reopened)."""
    column = await card_service.column(session, card.repo_id, CardStatus.TODO)
    card.archived_at = None
    card.position = len(column)
