"""A reviewer's moves: approve (merge the branch), reject, request changes."""

from __future__ import annotations

import random
from pathlib import Path

import anyio
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import ActivityKind, Card, CardStatus, Comment
from lazyaf.errors import Conflict, InvalidTransition
from lazyaf.git import merge as git_merge
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job
from lazyaf.orchestration import announce, columns, runs
from lazyaf.orchestration.states import CARDS
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

APPROVE_TRIES = 3
"""Merges tried when the default branch moves between reading it and moving it (a push, or an
approval in another server process: approvals in one process wait in line, review/queue.py)."""


def _what(card: Card) -> str:
    return f"Card '{card.title}'"


def merged_ref(card: Card) -> str:
    """The ref that keeps what approve merged reachable (the branch may be deleted)."""
    return f"refs/lazyaf/merged/{card.id}"


async def reviewed_head(settings: Settings, repo: Repo, card: Card, expected_head: str | None) -> str:
    """The card branch's head, which approve acts on; a 409 when it moved since ``expected_head``
    (the head the reviewer saw). Without one, the head as it is now."""
    head = await card_service.branch_head(settings=settings, repo=repo, card=card)
    if expected_head is not None and head != expected_head.lower():
        raise Conflict(
            f"Branch {card.branch_name} moved since it was reviewed: it is at {head[:12]}, "
            f"not {expected_head[:12]}. Nothing was merged; review the new diff and approve again."
        )
    return head


async def waits_for_plan_review(session: AsyncSession, card: Card) -> bool:
    """Whether the card is in review because its run waits for its plan's review."""
    return card.status == CardStatus.IN_REVIEW and await runs.waiting_run(session, card) is not None


async def approve_card(
    *, session: AsyncSession, settings: Settings, card: Card, expected_head: str | None = None
) -> Card:
    """Merge the card branch into the default branch (ff, merge commit or squash) and mark the card done.

    ``expected_head`` is the branch head the reviewer saw: when the branch points elsewhere now,
    nothing is merged and a 409 says so. Without it (curl, older clients) the branch is merged
    where it points when the request arrives. Either way the merge uses the sha read here, never
    the ref again, so a push racing the approve cannot slip in. On a conflict nothing is merged:
    the card stays in review, marked with the conflicting files, and a 409 names them.
    """
    CARDS.act("approve", card.status, what=_what(card))
    repo, _ = await runs.repo_with_base(session, settings, card)
    head = await reviewed_head(settings, repo, card, expected_head)
    waiting = await runs.waiting_run(session, card)
    if waiting is not None:
        # The plan was reviewed: the run goes on with its next step (nothing is merged yet).
        announce.activity(
            session, card, ActivityKind.STATUS, {"plan_approved": True, "run_id": str(waiting.id)}
        )
        job = await runs.continue_after_review(session=session, settings=settings, card=card, run=waiting)
        if job is not None:
            log.info("plan_approved", card_id=str(card.id), run_id=str(waiting.id))
            return card
    path = git_path(settings, repo)
    message = f"{card.title}\n\nLazyAF card {card.id} (branch {card.branch_name}), approved."
    try:
        result = await _merge_retrying(path, repo, head, message)
    except (git_merge.MergeConflict, git_merge.ConflictMarkers) as conflict:
        card.conflict_files = list(conflict.files)
        markers = isinstance(conflict, git_merge.ConflictMarkers)
        announce.activity(
            session, card, ActivityKind.CONFLICT, {"files": card.conflict_files, "markers": markers}
        )
        await session.flush()
        announce.card_changed(session, card)
        await session.commit()  # the conflict marker stays although the request fails
        what = (
            f"holds conflict markers (<<<<<<< / >>>>>>> lines) that {repo.default_branch} lacks"
            if markers
            else f"conflicts with {repo.default_branch}"
        )
        raise Conflict(
            f"Branch {card.branch_name} {what} in: {', '.join(conflict.files)}. "
            "Nothing was merged; request changes to have the agent resolve them."
        ) from None
    # What was merged stays readable after the branch is gone (a done card's diff and commits).
    await in_thread(git_refs.set_ref, path, merged_ref(card), result.head, reason="approved")
    card.merge_sha, card.merged_head_sha, card.merge_base_sha = result.sha, result.head, result.base
    card.conflict_files = None
    await columns.place(session, card, CardStatus.DONE, None)
    announce.activity(
        session,
        card,
        ActivityKind.MERGED,
        {"sha": result.sha, "kind": result.kind, "into": repo.default_branch},
    )
    await session.flush()
    announce.card_changed(session, card)
    log.info("card_approved", card_id=str(card.id), sha=result.sha, kind=result.kind)
    return card


async def _merge_retrying(path: Path, repo: Repo, head: str, message: str) -> git_merge.MergeResult:
    for tries_left in range(APPROVE_TRIES - 1, -1, -1):
        try:
            return await in_thread(
                git_merge.merge,
                path,
                target_branch=repo.default_branch,
                source=head,
                strategy=repo.merge_strategy,  # type: ignore[arg-type]
                message=message,
                author=("LazyAF", "lazyaf@localhost"),
            )
        except git_merge.TargetMoved:
            if not tries_left:
                raise
            log.info("approve_retry", repo=repo.name, reason="target moved")
            # The other writer may still hold the ref's lock: give it a moment to publish.
            await anyio.sleep(0.05 * (APPROVE_TRIES - tries_left) * (0.5 + random.random()))
    raise AssertionError("unreachable")


async def approve_elsewhere(*, session: AsyncSession, card: Card, how: str) -> Card:
    """Mark an in_review card done without merging it here: its work goes on elsewhere (``how``:
    pull_request, for a GitHub link whose Approve opens a pull request)."""
    CARDS.act("approve", card.status, what=_what(card))
    card.conflict_files = None
    card.start_waiting_since = None
    await columns.place(session, card, CardStatus.DONE, None)
    announce.activity(session, card, ActivityKind.GITHUB, {"event": "approved", "as": how})
    await session.flush()
    announce.card_changed(session, card)
    log.info("card_approved", card_id=str(card.id), kind=how)
    return card


async def reject_card(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    delete_branch: bool = False,
    position: int | None = None,
) -> Card:
    """Send a reviewed card back to todo; its jobs stay, its branch too unless asked to delete it."""
    CARDS.act("reject", card.status, what=_what(card))
    waiting = await runs.waiting_run(session, card)
    if waiting is not None:
        await runs.cancel_waiting(session=session, card=card, run=waiting)
    if delete_branch and card.branch_name:
        repo = await session.get(Repo, card.repo_id)
        assert repo is not None
        await in_thread(git_refs.delete_branch, git_path(settings, repo), card.branch_name)
        announce.activity(session, card, ActivityKind.BRANCH_DELETED, {"branch": card.branch_name})
        card.branch_name = None
    card.conflict_files = None
    await columns.place(session, card, CardStatus.TODO, position)
    announce.activity(session, card, ActivityKind.STATUS, {"status": str(CardStatus.TODO), "rejected": True})
    await session.flush()
    announce.card_changed(session, card)
    return card


async def request_changes(
    *, session: AsyncSession, settings: Settings, card: Card, agent: str | None = None
) -> Job:
    """Queue another agent pass on the branch with the open comments (and the conflicts, if any)."""
    CARDS.act("request_changes", card.status, what=_what(card))
    repo, _ = await runs.repo_with_base(session, settings, card)
    await card_service.branch_head(settings=settings, repo=repo, card=card)
    query = (
        select(Comment)
        .where(Comment.card_id == card.id, Comment.job_id.is_(None))
        .order_by(Comment.created_at)
    )
    comments = list((await session.scalars(query)).all())
    conflicts = card.conflict_files or []
    if not comments and not conflicts:
        raise InvalidTransition(
            f"Card '{card.title}' has no open comments; add a comment saying what to change."
        )
    waiting = await runs.waiting_run(session, card)
    if waiting is not None and not conflicts:
        # The plan's review: the plan step runs again with the comments (refine).
        job = await runs.replan(session=session, settings=settings, card=card, run=waiting, comments=comments)
    else:
        if waiting is not None:
            await runs.cancel_waiting(session=session, card=card, run=waiting)
        job = await runs.iterate(
            session=session, settings=settings, card=card, comments=comments, conflicts=conflicts, agent=agent
        )
    for comment in comments:
        comment.job_id = job.id
    # conflict_files stay until a resolve job has pushed a merge (attempts.complete clears them).
    await session.flush()
    return job
