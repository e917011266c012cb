"""Work orders over cards and runs: create (a card, then its run), list, read, git progress, logs.

Nothing is stored for a work order itself: its id is its run's id, and what it shows is read from
the run, its steps and their jobs (``runs.service.read``), the card and the repo. Services flush;
the request commits, so a create whose start is refused leaves no card behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import Card
from lazyaf.cards.schemas import CardCreate
from lazyaf.errors import InvalidInput, NotFound
from lazyaf.git import diff as git_diff
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job, JobEvent
from lazyaf.orchestration import announce
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.runs import service as run_service
from lazyaf.runs.models import Run, RunStatus, Step
from lazyaf.settings import Settings
from lazyaf.work_orders.schemas import (
    GitProgressRead,
    StepProgress,
    WorkOrderCreate,
    WorkOrderEventRead,
    WorkOrderRead,
)
from lazyaf.workflows import service as workflow_service

TITLE_LIMIT = 200
LISTED = 10


async def find_repo(session: AsyncSession, ref: str) -> Repo:
    """The repo named ``ref`` (or once named so), else the one with that id; a 422 naming the repos."""
    repo_id = await repo_service.find_by_name(session, ref)
    if repo_id is None:
        try:
            repo_id = uuid.UUID(ref)
        except ValueError:
            repo_id = None
    repo = await session.get(Repo, repo_id) if repo_id is not None else None
    if repo is None:
        names = (await session.scalars(select(Repo.name).order_by(Repo.name).limit(LISTED + 1))).all()
        known = ", ".join(names[:LISTED]) + (" and more" if len(names) > LISTED else "")
        listing = (
            f"the repos are: {known}" if names else "there are no repos yet; add one with `lazyaf ingest`"
        )
        raise InvalidInput(f"No repo named '{ref}' (or with that id); {listing}.")
    return repo


def title_from(prompt: str) -> str:
    """A card title from a prompt: its first line with text, cut to the title's length."""
    line = next((line.strip() for line in prompt.splitlines() if line.strip()), "Work order")
    return line if len(line) <= TITLE_LIMIT else line[: TITLE_LIMIT - 1].rstrip() + "…"


async def create(*, session: AsyncSession, settings: Settings, order: WorkOrderCreate) -> Run:
    """A card for the prompt at the bottom of To Do, started at once with the workflow asked for."""
    repo = await find_repo(session, order.repo)
    card_in = CardCreate(title=order.title or title_from(order.prompt), description=order.prompt)
    card = await card_service.create(session=session, repo=repo, card_in=card_in)
    announce.card_changed(session, card)
    return await workflow_service.start(
        session, settings, card, workflow=order.workflow, review_plan=order.review_plan
    )


async def get(session: AsyncSession, run_id: uuid.UUID) -> Run:
    run = await session.get(Run, run_id)
    if run is None:
        raise NotFound(f"No work order with id {run_id}; list them with GET /api/work-orders.")
    return run


def _filtered(repo: Repo | None, status: RunStatus | None, card_id: uuid.UUID | None) -> Select[Run]:
    query = select(Run)
    if repo is not None:
        query = query.join(Card, Card.id == Run.card_id).where(Card.repo_id == repo.id)
    if status is not None:
        query = query.where(Run.status == status)
    if card_id is not None:
        query = query.where(Run.card_id == card_id)
    return query


async def list_runs(
    *,
    session: AsyncSession,
    repo: Repo | None,
    status: RunStatus | None,
    card_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[Run], int]:
    """A page of work orders, newest first, and how many match."""
    query = _filtered(repo, status, card_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    page = query.order_by(Run.started_at.desc(), Run.created_at.desc()).limit(limit).offset(offset)
    return list((await session.scalars(page)).all()), int(total or 0)


async def read(session: AsyncSession, runs: Sequence[Run]) -> list[WorkOrderRead]:
    """The work orders of ``runs``, in order (four queries, whatever the count)."""
    if not runs:
        return []
    found = (
        await session.execute(
            select(Card, Repo)
            .join(Repo, Repo.id == Card.repo_id)
            .where(Card.id.in_({r.card_id for r in runs}))
        )
    ).all()
    cards = {card.id: (card, repo) for card, repo in found}
    out = []
    for run in await run_service.read(session, runs):
        card, repo = cards[run.card_id]
        out.append(
            WorkOrderRead(
                id=run.id,
                card_id=card.id,
                repo_id=repo.id,
                repo=repo.name,
                title=card.title,
                workflow=run.workflow,
                status=run.status,
                phase=run.phase,
                card_status=card.status,
                branch=card.branch_name,
                review_plan=run.review_plan,
                error=run.error,
                created_at=run.created_at,
                started_at=run.started_at,
                finished_at=run.finished_at,
                steps=run.steps,
            )
        )
    return out


async def git_progress(*, session: AsyncSession, settings: Settings, run: Run) -> GitProgressRead:
    """The branch from where it was when the run began to its head now (a run that ended: its last
    step's head, so a merged or later-changed branch does not change the answer), and what each
    step added, all from refs."""
    card = await session.get(Card, run.card_id)
    assert card is not None
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    steps = (await session.scalars(select(Step).where(Step.run_id == run.id).order_by(Step.position))).all()
    per_step = [
        StepProgress(
            position=s.position,
            kind=s.kind,
            commits=s.commits,
            files_changed=s.files_changed,
            lines_added=s.lines_added,
            lines_removed=s.lines_removed,
        )
        for s in steps
    ]
    # Where the branch was when the run began: its first step's start, or (the branch did not
    # exist yet) the default branch's tip its first attempt was based on.
    base = steps[0].start_sha if steps else None
    if base is None and steps:
        first_job = select(Job.base_sha).where(Job.step_id == steps[0].id).order_by(Job.queued_at).limit(1)
        base = await session.scalar(first_job)
    recorded = next((s.head_sha for s in reversed(steps) if s.head_sha), None)
    running = run.status in (RunStatus.RUNNING, RunStatus.WAITING)
    path = repo_service.git_path(settings, repo)
    branch = card.branch_name
    head, base, counted = await in_thread(
        _measure, path, repo.default_branch, branch, base, None if running else recorded
    )
    return GitProgressRead(
        branch=branch,
        base_sha=base,
        head_sha=head,
        commits=counted.commits if counted else 0,
        files_changed=counted.files_changed if counted else 0,
        lines_added=counted.lines_added if counted else 0,
        lines_removed=counted.lines_removed if counted else 0,
        steps=per_step,
    )


def _measure(
    repo: Path, default_branch: str, branch: str | None, base: str | None, head: str | None
) -> tuple[str | None, str | None, git_diff.Progress | None]:
    """(head, base, progress) in one worker-thread trip: the branch's head unless ``head`` is given,
    and the merge-base with the default branch when no base was recorded."""
    if head is None and branch:
        (head,) = git_refs.branch_shas(repo, branch)
    if head is None:
        return None, base, None
    if base is None:
        (tip,) = git_refs.branch_shas(repo, default_branch)
        base = git_diff.merge_base(repo, tip, head) if tip else None
    if base is None:
        return head, None, None
    try:
        return head, base, git_diff.progress(repo, base, head)
    except git_diff.GitError:
        return head, base, None  # a commit gone (a branch rewritten by hand): nothing to count


async def events(
    *, session: AsyncSession, run: Run, after: int, limit: int, position: int | None
) -> list[WorkOrderEventRead]:
    """The run's agent events after id ``after``, oldest first, all its steps' attempts (or one
    step's, by ``position``)."""
    query = (
        select(JobEvent, Job.step_id, Step.position, Step.kind)
        .join(Job, Job.id == JobEvent.job_id)
        .join(Step, Step.id == Job.step_id)
        .where(Step.run_id == run.id, JobEvent.id > after)
    )
    if position is not None:
        query = query.where(Step.position == position)
    rows = (await session.execute(query.order_by(JobEvent.id).limit(limit))).all()
    return [
        WorkOrderEventRead(
            id=event.id,
            job_id=event.job_id,
            step_id=step_id,
            step_position=step_position,
            step_kind=step_kind,
            attempt=event.attempt,
            seq=event.seq,
            kind=event.kind,
            data=event.data,
            created_at=event.created_at,
        )
        for event, step_id, step_position, step_kind in rows
    ]
