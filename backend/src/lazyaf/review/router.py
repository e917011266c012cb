"""Review endpoints: diff, commits, comments, approve, reject, request changes, retry, timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from lazyaf.api.deps import CardDep, RepoDep, SessionDep, SettingsDep
from lazyaf.cards.models import Card, CardStatus
from lazyaf.cards.schemas import CardRead
from lazyaf.errors import NotFound, error_responses
from lazyaf.git import diff as git_diff
from lazyaf.github import pulls as github_pulls
from lazyaf.jobs.schemas import JobRead
from lazyaf.orchestration import cards as card_moves
from lazyaf.orchestration import review
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import CommitRead
from lazyaf.review import service as review_service
from lazyaf.review.queue import approvals
from lazyaf.review.schemas import (
    AgentChoice,
    ApproveBody,
    ApproveRead,
    CommentCreate,
    CommentRead,
    JobQueuedRead,
    RejectBody,
    TimelineRead,
)
from lazyaf.validation import INT64_MAX

router = APIRouter(tags=["review"])
Offset = Annotated[int, Query(ge=0, le=INT64_MAX, description="Skip this many files.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Files per page.")]


@router.get("/cards/{card_id}/diff", responses=error_responses(404, 409))
async def get_card_diff(
    card: CardDep, session: SessionDep, settings: SettingsDep, offset: Offset = 0, limit: Limit = 100
) -> git_diff.DiffResult:
    """The card branch against the default branch, from their merge-base: files, hunks and the patch
    (409 ``branch_missing`` when the card has no branch)."""
    return await review_service.card_diff(
        session=session, settings=settings, card=card, offset=offset, limit=limit
    )


@router.get("/repos/{repo_id}/diff", responses=error_responses(404, 422))
async def get_repo_diff(
    repo: RepoDep,
    settings: SettingsDep,
    base: Annotated[str, Query(min_length=1, description="Branch, tag or sha to compare from.")],
    head: Annotated[str, Query(min_length=1, description="Branch, tag or sha to compare to.")],
    three_dot: Annotated[bool, Query(description="Compare from the merge-base of base and head.")] = True,
    offset: Offset = 0,
    limit: Limit = 100,
) -> git_diff.DiffResult:
    """The diff between any two refs of a repo."""
    return await review_service.diff(
        settings=settings, repo=repo, base=base, head=head, three_dot=three_dot, offset=offset, limit=limit
    )


@router.get("/cards/{card_id}/commits", responses=error_responses(404, 409))
async def list_card_commits(card: CardDep, session: SessionDep, settings: SettingsDep) -> list[CommitRead]:
    """The commits on the card's branch that the default branch does not have, newest first."""
    found = await review_service.card_commits(session=session, settings=settings, card=card)
    return [
        CommitRead(**{f: getattr(c, f) for f in c.__slots__}, summary=c.message.split("\n", 1)[0])
        for c in found
    ]


@router.post(
    "/cards/{card_id}/comments", status_code=status.HTTP_201_CREATED, responses=error_responses(404, 422)
)
async def create_comment(
    card: CardDep, comment_in: CommentCreate, session: SessionDep, settings: SettingsDep
) -> CommentRead:
    """Comment on a card, optionally on a file and line of its diff."""
    comment = await review_service.add_comment(
        session=session, settings=settings, card=card, comment_in=comment_in
    )
    return CommentRead.model_validate(comment)


@router.get("/cards/{card_id}/comments", responses=error_responses(404))
async def list_comments(card: CardDep, session: SessionDep) -> list[CommentRead]:
    """The card's comments, oldest first."""
    return [
        CommentRead.model_validate(c) for c in await review_service.list_comments(session=session, card=card)
    ]


@router.post("/cards/{card_id}/approve", responses=error_responses(404, 409))
async def approve_card(
    card: CardDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    body: ApproveBody | None = None,
) -> ApproveRead:
    """Merge the card's branch into the default branch and mark it done (409: the branch moved since
    `expected_head`, or conflicting files). On a card whose run waits for its plan's review, approve
    the plan instead: the run goes on with its next step (``plan_approved``; nothing is merged).

    Approvals of one repo take turns, each merging onto the previous one's result. When the repo's
    GitHub link says ``on_approve: pull_request``, the branch goes to GitHub as a pull request instead
    (through the outbox) and nothing is merged here."""
    expected_head = body.expected_head if body else None
    async with approvals(request).turn(card.repo_id):
        current = await session.get(Card, card.id, populate_existing=True)  # as the one before left it
        if current is None:
            raise NotFound(f"Card '{card.title}' was deleted while its approval waited; nothing was merged.")
        plan_review = await review.waits_for_plan_review(session, current)
        if not plan_review and await github_pulls.approve_opens_pull_request(session, current):
            repo = await session.get(Repo, current.repo_id)
            assert repo is not None
            await review.reviewed_head(settings, repo, current, expected_head)
            card = await github_pulls.approve_with_pull_request(
                session=session, settings=settings, card=current
            )
            await session.commit()
            return ApproveRead(card=CardRead.model_validate(card), merge_sha="")
        card = await review.approve_card(
            session=session, settings=settings, card=current, expected_head=expected_head
        )
        await session.commit()
    if plan_review and card.status != CardStatus.DONE:
        return ApproveRead(card=CardRead.model_validate(card), merge_sha="", plan_approved=True)
    return ApproveRead(card=CardRead.model_validate(card), merge_sha=card.merge_sha or "")


@router.post("/cards/{card_id}/reject", responses=error_responses(404, 409))
async def reject_card(
    card: CardDep, session: SessionDep, settings: SettingsDep, body: RejectBody | None = None
) -> CardRead:
    """Send a reviewed card back to todo, keeping its branch unless asked to delete it."""
    delete = body.delete_branch if body else False
    card = await review.reject_card(session=session, settings=settings, card=card, delete_branch=delete)
    return CardRead.model_validate(card)


@router.post(
    "/cards/{card_id}/request-changes",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409),
)
async def request_changes(
    card: CardDep, session: SessionDep, settings: SettingsDep, body: AgentChoice | None = None
) -> JobQueuedRead:
    """Queue another agent pass on the branch carrying the open comments (and conflicts to resolve)."""
    job = await review.request_changes(
        session=session, settings=settings, card=card, agent=body.agent if body else None
    )
    return JobQueuedRead(card=CardRead.model_validate(card), job=JobRead.model_validate(job))


@router.post(
    "/cards/{card_id}/retry", status_code=status.HTTP_201_CREATED, responses=error_responses(404, 409)
)
async def retry_card(
    card: CardDep, session: SessionDep, settings: SettingsDep, body: AgentChoice | None = None
) -> JobQueuedRead:
    """Queue a new job on a failed card's branch, with the previous failure in its prompt."""
    job = await card_moves.retry_card(
        session=session, settings=settings, card=card, agent=body.agent if body else None
    )
    return JobQueuedRead(card=CardRead.model_validate(card), job=JobRead.model_validate(job))


@router.get("/cards/{card_id}/timeline", responses=error_responses(404))
async def get_timeline(card: CardDep, session: SessionDep) -> TimelineRead:
    """Attempts with their status and stats, comments, status changes and merges, in order."""
    entries = await review_service.timeline(session=session, card=card)
    return TimelineRead(card=CardRead.model_validate(card), entries=entries)
