"""Review reads and comments: the card's diff and commits, anchored comments, the timeline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import Card, CardActivity, CardStatus, Comment
from lazyaf.errors import InvalidInput
from lazyaf.git import diff as git_diff
from lazyaf.git import history
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job
from lazyaf.jobs.schemas import JobRead
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.review.schemas import CommentCreate, TimelineEntry
from lazyaf.settings import Settings

SNIPPET_CONTEXT = 2


async def card_refs(session: AsyncSession, settings: Settings, card: Card) -> tuple[Repo, str]:
    """The card's repo and the sha of its branch (409 when it has none, cards.service.branch_head)."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    return repo, await card_service.branch_head(settings=settings, repo=repo, card=card)


async def diff(
    *,
    settings: Settings,
    repo: Repo,
    base: str,
    head: str,
    three_dot: bool = True,
    offset: int = 0,
    limit: int = 100,
) -> git_diff.DiffResult:
    path = git_path(settings, repo)
    try:
        return await in_thread(
            git_diff.diff, path, base, head, three_dot=three_dot, offset=offset, limit=limit
        )
    except git_diff.DiffError as exc:
        raise InvalidInput(str(exc)) from None


def _merged(card: Card) -> tuple[str, str] | None:
    """(merge base, merged head) of a card approve merged: its diff and commits stay those."""
    if card.status == CardStatus.DONE and card.merged_head_sha and card.merge_base_sha:
        return card.merge_base_sha, card.merged_head_sha
    return None


async def card_diff(
    *, session: AsyncSession, settings: Settings, card: Card, offset: int = 0, limit: int = 100
) -> git_diff.DiffResult:
    """The branch against the default branch from their merge base; for a merged card, what was merged."""
    if merged := _merged(card):
        repo = await session.get(Repo, card.repo_id)
        assert repo is not None
        base, head = merged
    else:
        repo, head = await card_refs(session, settings, card)
        base = repo.default_branch
    return await diff(settings=settings, repo=repo, base=base, head=head, offset=offset, limit=limit)


async def card_commits(
    *, session: AsyncSession, settings: Settings, card: Card, limit: int = 500
) -> list[history.CommitInfo]:
    """The branch's own commits (not on the default branch), newest first; for a merged card, the
    commits it merged."""
    if merged := _merged(card):
        repo = await session.get(Repo, card.repo_id)
        assert repo is not None
        path, (base, head) = git_path(settings, repo), merged
        return await in_thread(history.list_commits_between, path, head, base, limit=limit)
    repo, _ = await card_refs(session, settings, card)
    branch = card.branch_name or ""
    path = git_path(settings, repo)
    return await in_thread(history.list_commits, path, branch, limit=limit, exclude=repo.default_branch)


async def add_comment(
    *, session: AsyncSession, settings: Settings, card: Card, comment_in: CommentCreate
) -> Comment:
    """Store a comment; an anchored one must point at a file (and line) of the card's diff."""
    snippet = None
    if comment_in.line is not None and comment_in.file is None:
        raise InvalidInput("A comment with a line needs the file it belongs to.")
    if comment_in.file is not None:
        result = await card_diff(session=session, settings=settings, card=card, limit=100_000)
        snippet = _snippet(result, comment_in.file, comment_in.line, card)
    comment = Comment(
        card_id=card.id, body=comment_in.body, file=comment_in.file, line=comment_in.line, snippet=snippet
    )
    session.add(comment)
    await session.flush()
    return comment


def _snippet(result: git_diff.DiffResult, file: str, line: int | None, card: Card) -> str | None:
    found = next((f for f in result.files if f.path == file or f.old_path == file), None)
    if found is None:
        raise InvalidInput(f"File '{file}' is not part of the diff of card '{card.title}'.")
    if line is None:
        return None
    for hunk in found.hunks:
        numbered = [(d.new_line if d.new_line is not None else d.old_line, d) for d in hunk.lines]
        for index, (number, entry) in enumerate(numbered):
            if number == line and entry.kind != "no_newline":
                window = hunk.lines[max(0, index - SNIPPET_CONTEXT) : index + SNIPPET_CONTEXT + 1]
                return "\n".join(_mark(d) for d in window)
    raise InvalidInput(
        f"Line {line} of '{file}' is not part of the diff; comment on a changed or shown line."
    )


def _mark(line: git_diff.DiffLine) -> str:
    return {"add": "+", "delete": "-", "context": " "}.get(line.kind, "\\") + line.text


async def list_comments(*, session: AsyncSession, card: Card) -> list[Comment]:
    query = select(Comment).where(Comment.card_id == card.id).order_by(Comment.created_at)
    return list((await session.scalars(query)).all())


async def timeline(*, session: AsyncSession, card: Card) -> list[TimelineEntry]:
    """Attempts, comments, status changes and merges, oldest first."""
    entries = [
        TimelineEntry(
            at=job.queued_at, kind="attempt", data=JobRead.model_validate(job).model_dump(mode="json")
        )
        for job in (await session.scalars(select(Job).where(Job.card_id == card.id))).all()
    ]
    entries += [
        TimelineEntry(
            at=c.created_at,
            kind="comment",
            data={
                "id": str(c.id),
                "body": c.body,
                "file": c.file,
                "line": c.line,
                "job_id": str(c.job_id) if c.job_id else None,
            },
        )
        for c in await list_comments(session=session, card=card)
    ]
    activity = await session.scalars(select(CardActivity).where(CardActivity.card_id == card.id))
    entries += [TimelineEntry(at=a.created_at, kind=a.kind, data=a.data) for a in activity]
    return sorted(entries, key=lambda e: e.at)
