"""The ``hold`` conflict policy, as a hold check the scheduler consults before a job is claimed.

``hold_reason(session, settings, job)`` answers None (the job may start) or the sentence saying
why it waits. In a repo whose ``conflict_policy`` is ``hold``, a job waits when its card's plan
(the ``files`` of ``docs/plans/<slug>.md`` on the card's branch, ``conflicts.plans``) overlaps the
files of a card that is ahead of it, until that card is reviewed. A card is ahead when it is in
review, or in progress with its agent running, between steps, or queued before this job in
dispatch order (priority, then queue time, then id: the claim's order). "Its files" are what its
own plan lists and what its branch changed. Being ahead is a strict order, so two cards never
hold each other.

A card without a plan (or a plan without ``files``) is never held: only a plan says what a card
is about to touch. In repos that hold, the check reads the job's own branch first (in a worker
thread, every git answer kept by commit id) and only when it has a plan the cards ahead of it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, CardStatus
from lazyaf.conflicts import plans, predict
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.settings import Settings

RELEASING_STATUSES = frozenset({CardStatus.DONE, CardStatus.TODO, CardStatus.FAILED})
"""Card statuses after review or work: a card that moves to one may end a hold behind it (the
runner hub then wakes a runner, the queue watcher recomputes the waiting reasons)."""

SHOWN_FILES = 5
"""Files a reason names; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Ahead:
    card_id: uuid.UUID
    title: str
    branch: str
    state: str
    """How the reason names where it is: in review, running, queued first."""


async def hold_reason(session: AsyncSession, settings: Settings, job: Job) -> str | None:
    """Why ``job`` must wait under its repo's ``hold`` conflict policy, or None (module docstring)."""
    found = (
        await session.execute(
            select(Card.branch_name, Card.repo_id, Repo.default_branch, Repo.conflict_policy)
            .join(Repo, Repo.id == Card.repo_id)
            .where(Card.id == job.card_id)
        )
    ).one_or_none()
    if found is None:
        return None
    branch, repo_id, target, policy = found
    if policy != "hold" or not branch:
        return None
    path = git_path(settings, repo_id)
    # Most jobs have no plan (or not yet): that is one read of the card's own branch, and done.
    own = await in_thread(predict.footprints, path, target, [predict.Side(job.card_id, branch)])
    mine = own.get(job.card_id)
    if mine is None or not mine.planned:
        return None
    ahead = await _ahead(session, job, repo_id)
    if not ahead:
        return None
    sides = [predict.Side(a.card_id, a.branch) for a in ahead]
    prints = await in_thread(predict.footprints, path, target, sides)
    for card in ahead:
        theirs = prints.get(card.card_id)
        if theirs is None:
            continue
        files = plans.overlapping(mine.planned, theirs.files)
        if files:
            return _sentence(card, files)
    return None


async def _ahead(session: AsyncSession, job: Job, repo_id: uuid.UUID) -> list[Ahead]:
    """The repo's other active cards that are ahead of ``job`` (module docstring), in review first."""
    rows = (
        await session.execute(
            select(
                Card.id,
                Card.title,
                Card.branch_name,
                Card.status,
                Job.id,
                Job.status,
                Job.priority,
                Job.queued_at,
            )
            .outerjoin(Job, Job.id == Card.job_id)
            .where(
                Card.repo_id == repo_id,
                Card.id != job.card_id,
                Card.status.in_((CardStatus.IN_PROGRESS, CardStatus.IN_REVIEW)),
                Card.archived_at.is_(None),
                Card.branch_name.is_not(None),
            )
            .order_by(Card.status.desc(), Card.id)
        )
    ).all()
    mine = (-job.priority, job.queued_at, str(job.id))
    ahead = []
    for card_id, title, branch, status, job_id, job_status, priority, queued_at in rows:
        if status == CardStatus.IN_REVIEW:
            state = "in review"
        elif job_status == JobStatus.QUEUED:
            if (-priority, queued_at, str(job_id)) >= mine:
                continue  # behind this job: it waits for this one, not the other way round
            state = "queued first"
        else:
            state = "running" if job_status == JobStatus.RUNNING else "in progress"
        ahead.append(Ahead(card_id, title, branch or "", state))
    return ahead


def _sentence(card: Ahead, files: list[str]) -> str:
    shown = ", ".join(files[:SHOWN_FILES])
    more = f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else ""
    return (
        f"conflict_policy hold: its plan touches files of '{card.title}' ({card.state}): {shown}{more}; "
        "it starts once that card is reviewed"
    )
