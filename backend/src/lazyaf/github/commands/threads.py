"""Threads: one GitHub issue or pull request of a linked repo is one thread, and one card.

A command on issue #n, or on the pull request #m its plan opened, reaches the same thread. The
card is the issue's card when the issue sync made one already; otherwise a new card in To Do,
marked with the issue's number (and remembered as a synced issue, so a later sync updates that
card instead of making a second one).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import ActivityKind, Card
from lazyaf.cards.schemas import CardCreate
from lazyaf.github.commands.events import CommentEvent
from lazyaf.github.commands.models import GitHubThread
from lazyaf.github.commands.runs import slug as make_slug
from lazyaf.github.models import GitHubIssue, GitHubLink
from lazyaf.github.sanitize import sanitize, sanitize_line
from lazyaf.orchestration import announce
from lazyaf.repos.models import Repo

BODY_CHARS = 40_000


async def find(session: AsyncSession, repo_id: object, number: int) -> GitHubThread | None:
    thread: GitHubThread | None = await session.scalar(
        select(GitHubThread).where(
            GitHubThread.repo_id == repo_id,
            or_(GitHubThread.number == number, GitHubThread.pr_number == number),
        )
    )
    return thread


def _page(event: CommentEvent, link: GitHubLink) -> str:
    url = (event.url or "").split("#", 1)[0]
    if url:
        return url
    kind = "pull" if event.is_pr else "issues"
    return f"https://github.com/{link.owner}/{link.name}/{kind}/{event.number}"


async def open_thread(
    session: AsyncSession, repo: Repo, link: GitHubLink, event: CommentEvent
) -> GitHubThread:
    """The thread of ``event``'s issue or pull request, made with its card on first use."""
    thread = await find(session, repo.id, event.number)
    if thread is not None:
        if thread.card_id is None or await session.get(Card, thread.card_id) is None:
            thread.card_id = (await _card(session, repo, link, thread)).id
        return thread
    title = sanitize_line(event.title, limit=200) or f"GitHub #{event.number}"
    thread = GitHubThread(
        repo_id=repo.id,
        number=event.number,
        is_pr=event.is_pr,
        pr_number=event.number if event.is_pr else None,
        pr_url=_page(event, link) if event.is_pr else None,
        title=title,
        html_url=_page(event, link),
        slug=make_slug(event.number, title),
    )
    session.add(thread)
    await session.flush()
    thread.card_id = (await _card(session, repo, link, thread)).id
    await session.flush()
    return thread


async def _card(session: AsyncSession, repo: Repo, link: GitHubLink, thread: GitHubThread) -> Card:
    existing = await session.scalar(
        select(Card).where(Card.repo_id == repo.id, Card.github_issue_number == thread.number)
    )
    if existing is not None:
        return existing
    card = await card_service.create(session=session, repo=repo, card_in=CardCreate(title=thread.title))
    card.github_issue_number = thread.number
    card.github_url = thread.html_url
    card.github_issue_state = "open"
    if not thread.is_pr:
        # Known to the issue sync from now on: it updates this card, it never makes another.
        row = await session.scalar(
            select(GitHubIssue).where(GitHubIssue.repo_id == repo.id, GitHubIssue.number == thread.number)
        )
        if row is None:
            session.add(
                GitHubIssue(
                    repo_id=repo.id,
                    card_id=card.id,
                    full_name=link.full_name,
                    number=thread.number,
                    title=thread.title,
                    body="",
                    state="open",
                    labels=[],
                    html_url=thread.html_url,
                    author=None,
                    comments=[],
                    comment_count=0,
                    github_updated_at="",
                    synced_title=card.title,
                    synced_body=card.description,
                )
            )
        else:
            row.card_id = card.id
    found = {"event": "thread", "number": thread.number, "url": thread.html_url}
    announce.activity(session, card, ActivityKind.GITHUB, found)
    await session.flush()
    announce.card_changed(session, card)
    return card


def update_from_github(thread: GitHubThread, card: Card | None, title: str, body: str, url: str) -> None:
    """The thread and card follow the issue's title and body while nobody edited the card."""
    title = sanitize_line(title, limit=200) or thread.title
    body = sanitize(body, limit=BODY_CHARS)
    if card is not None:
        if card.title == thread.title:
            card.title = title
        if not card.description:
            card.description = body
        card.github_url = card.github_url or url
    thread.title = title
    thread.html_url = url or thread.html_url
