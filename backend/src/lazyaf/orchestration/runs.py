"""A card's agent work: its runs and their steps; start them, queue attempts, settle what follows.

A card runs *runs* (``runs.models.Run``: a workflow on the card's branch), a run has *steps*
(``Step``, in order), a step has *attempts* (jobs, ``job.step_id``). Today a run has one step
(``workflows.kinds.StepKind``): ``build`` when the card is started (workflow ``build``),
``iterate`` when a reviewer asks for changes (workflow ``iterate``); retrying a failed card
reopens its failed step. When an attempt ends, ``complete_attempt``/``end_attempt`` settle it:
the repo's checks failed and attempts are left -> another attempt of the same step (``fix``);
otherwise the step ends, and with it the run (the next step's place: ``_after_step``) and the
card moves (completed -> in_review, failed -> failed, cancelled -> todo).

The attempt policy: a card has ``max_attempts`` agent passes (cancelled ones do not count),
whatever made them (start, retries, fixes, review rounds).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog
from lazyaf_protocol import messages as protocol
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents import service as agent_service
from lazyaf.cards.models import ActivityKind, Card, CardStatus, Comment
from lazyaf.errors import InvalidTransition
from lazyaf.git import diff as git_diff
from lazyaf.git import files as git_files
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.github import prompt as github_prompt
from lazyaf.jobs import sessions as job_sessions
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.learnings import service as learning_service
from lazyaf.orchestration import announce, attempts, columns
from lazyaf.orchestration.states import ATTEMPTS, RUNS, STEPS, IllegalMove
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runs.models import Run, RunStatus, Step, StepStatus
from lazyaf.settings import Settings
from lazyaf.workflows import prompts
from lazyaf.workflows.kinds import StepKind

log = structlog.get_logger(__name__)

CARD_AFTER: dict[JobStatus, CardStatus] = {
    JobStatus.COMPLETED: CardStatus.IN_REVIEW,
    JobStatus.FAILED: CardStatus.FAILED,
    JobStatus.CANCELLED: CardStatus.TODO,
}
"""Where a card goes when its run ends with its last attempt in this status."""
STEP_AFTER: dict[JobStatus, StepStatus] = {
    JobStatus.COMPLETED: StepStatus.SUCCEEDED,
    JobStatus.FAILED: StepStatus.FAILED,
    JobStatus.CANCELLED: StepStatus.CANCELLED,
}
RUN_AFTER: dict[StepStatus, RunStatus] = {
    StepStatus.SUCCEEDED: RunStatus.SUCCEEDED,
    StepStatus.FAILED: RunStatus.FAILED,
    StepStatus.CANCELLED: RunStatus.CANCELLED,
}
DIFF_LIMIT = 60_000
"""Characters of the branch's diff a fresh follow-up's prompt quotes."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def branch_name(card: Card) -> str:
    """``lazyaf/<short card id>-<slug of the title>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", card.title.lower()).strip("-")[:40].rstrip("-") or "card"
    return f"lazyaf/{card.id.hex[:8]}-{slug}"


async def repo_with_base(session: AsyncSession, settings: Settings, card: Card) -> tuple[Repo, str]:
    """The card's repo and the sha of its default branch; a clear 409 while that branch is empty."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    (base,) = await in_thread(git_refs.branch_shas, git_path(settings, repo), repo.default_branch)
    if base is None:
        raise _no_base(repo)
    return repo, base


def _no_base(repo: Repo) -> InvalidTransition:
    return InvalidTransition(
        f"Repo '{repo.name}' has no commits on its default branch '{repo.default_branch}' yet; "
        "push to it first (lazyaf ingest)."
    )


def _starting_point(
    path: Path, default_branch: str, wanted: str | None
) -> tuple[str | None, str | None, str | None]:
    """What a start reads of the repo, in one worker-thread trip: the default branch's tip, the
    README there, and (when ``wanted`` names a branch to make) the first free name like it."""
    (base,) = git_refs.branch_shas(path, default_branch)
    if base is None:
        return None, None, None
    free = git_refs.free_branch_name(path, wanted) if wanted else None
    return base, git_files.readme(path, base), free


# --- runs and steps ---------------------------------------------------------------------------------


async def new_run(session: AsyncSession, card: Card, workflow: str, kinds: list[StepKind]) -> Step:
    """A run of ``workflow`` (its steps of ``kinds``, in order) for the card; its first step begins.
    Written with the attempt queued on it (one flush: the ids are made here)."""
    run = Run(
        id=uuid.uuid4(), card_id=card.id, workflow=workflow, status=RunStatus.RUNNING, started_at=utcnow()
    )
    steps = [
        Step(id=uuid.uuid4(), run_id=run.id, position=i, kind=kind, status=StepStatus.PENDING)
        for i, kind in enumerate(kinds)
    ]
    session.add_all([run, *steps])
    _move_step(steps[0], StepStatus.RUNNING)
    log.info("run_started", run_id=str(run.id), card_id=str(card.id), workflow=workflow)
    return steps[0]


async def reopen(session: AsyncSession, card: Card) -> Step:
    """The failed step of the card's last run, running again (its run too): a retry is another
    attempt of the step that failed. A card whose last job had no step gets a new build run."""
    previous = await session.get(Job, card.job_id) if card.job_id else None
    step = await session.get(Step, previous.step_id) if previous and previous.step_id else None
    run = await session.get(Run, step.run_id) if step else None
    if step is None or run is None or step.status != StepStatus.FAILED:
        return await new_run(session, card, StepKind.BUILD, [StepKind.BUILD])
    RUNS.require(run.status, RunStatus.RUNNING)
    run.status, run.finished_at, run.error = RunStatus.RUNNING, None, None
    _move_step(step, StepStatus.RUNNING)
    step.finished_at, step.error = None, None
    return step


async def begin_step(session: AsyncSession, run_id: uuid.UUID, position: int) -> Step:
    """The pending step at ``position`` of a running run, running now (its attempt is the
    caller's to queue). IllegalMove when the run ended or the step is not pending."""
    found = (
        await session.execute(
            select(Step, Run).join(Run).where(Step.run_id == run_id, Step.position == position)
        )
    ).one()
    step, run = found
    if run.status != RunStatus.RUNNING:
        raise IllegalMove(f"run {run.id} is {run.status}: it begins no step")
    _move_step(step, StepStatus.RUNNING)
    return step


def _move_step(step: Step, target: StepStatus, error: str | None = None) -> None:
    STEPS.require(step.status, target)
    step.status = target
    if target == StepStatus.RUNNING:
        step.started_at = step.started_at or utcnow()
    elif target in STEPS.final or target == StepStatus.FAILED:
        step.finished_at, step.error = utcnow(), error


async def _settle_step(session: AsyncSession, job: Job, status: JobStatus, error: str | None) -> None:
    """The attempt ``job`` ended its step (no other attempt follows): the step ends in kind, and
    the run goes on with its next step or ends."""
    if job.step_id is None:
        return  # a job from before runs
    found = (await session.execute(select(Step, Run).join(Run).where(Step.id == job.step_id))).one_or_none()
    if found is None or found[0].status != StepStatus.RUNNING:
        return  # a step already settled
    step, run = found
    _move_step(step, STEP_AFTER[status], error)
    await _after_step(session, run, step)


async def _after_step(session: AsyncSession, run: Run, step: Step) -> None:
    """What follows a step's end. A step that succeeded with another one pending leaves the run
    running: whoever drives the run begins that one (``begin_step``; a GitHub command's run, from
    its status poll; a workflow's engine). Otherwise the run ends with the step, and the steps it
    never reached are skipped."""
    rest = (
        await session.scalars(
            select(Step).where(Step.run_id == run.id, Step.position > step.position).order_by(Step.position)
        )
    ).all()
    pending = [later for later in rest if later.status == StepStatus.PENDING]
    if step.status == StepStatus.SUCCEEDED and pending:
        return
    for later in pending:
        _move_step(later, StepStatus.SKIPPED)
    target = RUN_AFTER[step.status]
    RUNS.require(run.status, target)
    run.status, run.finished_at, run.error = target, utcnow(), step.error
    log.info("run_finished", run_id=str(run.id), status=target)


# --- starting and queueing ------------------------------------------------------------------------


async def start(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    position: int | None = None,
    agent: str | None = None,
    fresh: bool = False,
) -> Job:
    """Start a card's run: its first attempt queued, the card in progress (the caller checked the
    card may start). The card goes on with its branch; with ``fresh`` (or when it has none) it
    gets a new one, made from the default branch under a name no branch has yet."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    wanted = branch_name(card) if fresh or not card.branch_name else None
    base_sha, readme, free = await in_thread(
        _starting_point, git_path(settings, repo), repo.default_branch, wanted
    )
    if base_sha is None:
        raise _no_base(repo)
    card.branch_name = free or card.branch_name
    github = await github_prompt.issue_context(session, card)
    prompt = await prompts.first_attempt(
        settings, card=card, repo=repo, readme=readme, github=github, session=session
    )
    step = await new_run(session, card, StepKind.BUILD, [StepKind.BUILD])
    return await queue_attempt(
        session=session,
        settings=settings,
        card=card,
        step=step,
        repo=repo,
        base_sha=base_sha,
        kind=JobKind.BUILD,
        prompt=prompt,
        agent=agent,
        position=position,
    )


async def queue_attempt(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    step: Step,
    repo: Repo,
    base_sha: str,
    kind: JobKind,
    prompt: str,
    agent: str | None = None,
    resume_session: str | None = None,
    position: int | None = None,
) -> Job:
    """Queue an attempt of ``kind`` of the (running) ``step`` on the card's branch (based on
    ``base_sha``); the card moves to in_progress if it is not there yet."""
    job = Job(
        card_id=card.id,
        step_id=step.id,
        priority=card.priority,
        kind=kind,
        agent=agent or settings.default_agent,
        branch=card.branch_name or branch_name(card),
        base_branch=repo.default_branch,
        base_sha=base_sha,
        prompt=prompt,
        resume_session=resume_session,
        queued_at=utcnow(),
    )
    session.add(job)
    await session.flush()  # the job row first: card.job_id refers to it
    card.job_id = job.id
    if card.status != CardStatus.IN_PROGRESS:
        await columns.place(session, card, CardStatus.IN_PROGRESS, position)
        announce.activity(
            session,
            card,
            ActivityKind.STATUS,
            {"status": str(CardStatus.IN_PROGRESS), "job_id": str(job.id), "kind": kind},
        )
    await session.flush()
    announce.card_changed(session, card)
    announce.job_changed(session, job)
    log.info("job_queued", job_id=str(job.id), card_id=str(card.id), agent=job.agent, kind=kind)
    return job


async def queue_followup(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    step: Step,
    kind: JobKind,
    failure: str = "",
    comments: list[Comment] | None = None,
    conflicts: list[str] | None = None,
    agent: str | None = None,
    require_agent: bool = False,
) -> Job:
    """Queue another attempt on the card's branch for ``step`` (running), resuming the agent's
    last session when it can (``require_agent``: a person asked for it, so refuse when no runner
    could run the agent)."""
    repo, base_sha = await repo_with_base(session, settings, card)
    previous = await session.get(Job, card.job_id) if card.job_id else None
    agent = agent or (previous.agent if previous else settings.default_agent)
    if require_agent:
        await agent_service.require(session=session, settings=settings, agent=agent)
    resume = await job_sessions.resumable(settings, previous, agent)
    # A fresh session needs the work so far; a resumed one has it.
    diff = "" if resume else await _branch_patch(settings, repo, card)
    prompt = await prompts.followup(
        settings,
        card=card,
        repo=repo,
        kind=kind,
        resumed=resume is not None,
        comments=comments or [],
        failure=failure,
        conflicts=conflicts or [],
        diff=diff,
        session=session,
    )
    return await queue_attempt(
        session=session,
        settings=settings,
        card=card,
        step=step,
        repo=repo,
        base_sha=base_sha,
        kind=kind,
        prompt=prompt,
        agent=agent,
        resume_session=resume,
    )


async def _branch_patch(settings: Settings, repo: Repo, card: Card) -> str:
    """The card branch's unified diff against the default branch, cut to ``DIFF_LIMIT`` characters."""
    try:
        result = await in_thread(
            git_diff.diff, git_path(settings, repo), repo.default_branch, card.branch_name or "", limit=200
        )
    except ValueError:
        return ""
    patch: str = result.patch
    return patch if len(patch) <= DIFF_LIMIT else patch[:DIFF_LIMIT] + "\n[… diff cut …]"


async def attempts_used(session: AsyncSession, card: Card) -> int:
    """Agent passes this card has had (cancelled ones do not count)."""
    count = await session.scalar(
        select(func.count()).select_from(Job).where(Job.card_id == card.id, Job.status != JobStatus.CANCELLED)
    )
    return int(count or 0)


async def check_attempts_left(session: AsyncSession, card: Card) -> None:
    """A 409 when the card has used all its attempts."""
    if await attempts_used(session, card) >= card.max_attempts:
        raise InvalidTransition(
            f"Card '{card.title}' has used all {card.max_attempts} of its attempts; "
            "raise its max_attempts to try again."
        )


# --- when an attempt ends --------------------------------------------------------------------------


def verification_failure(result: protocol.VerifyResult) -> str:
    how = "timed out" if result.exit_code is None else f"exited with code {result.exit_code}"
    tail = result.output.strip()[-3000:]
    return f"Verification failed: {result.name} (`{result.command}`) {how}.\n{tail}".rstrip()


async def complete_attempt(
    *, session: AsyncSession, settings: Settings, message: protocol.Complete, runner_id: uuid.UUID
) -> bool:
    """A runner reported how its attempt ended: record it (``attempts.complete``), then settle what
    follows. False: the attempt was fenced off, or ``runner_id`` is not the runner holding it; a
    resent completion already recorded answers True and changes nothing."""
    reported = await attempts.complete(
        session=session, settings=settings, message=message, runner_id=runner_id
    )
    if isinstance(reported, bool):
        return reported
    job, card, status, error = reported.job, reported.card, reported.status, reported.error
    if status == JobStatus.COMPLETED:
        # What the agent offers to remember, as proposals a person may accept (never in a prompt before).
        await learning_service.propose(session=session, settings=settings, job=job, card=card)
    if status == JobStatus.COMPLETED and reported.failed_check is not None:
        # The work is kept on the branch; the agent gets the output for another pass, if allowed.
        error = verification_failure(reported.failed_check)
        if await attempts_used(session, card) < card.max_attempts:
            # Another attempt of the same step: the step and its run go on.
            await attempts.finish(session=session, job=job, status=JobStatus.FAILED, error=error)
            await session.flush()
            announce.job_changed(session, job)
            step = await session.get(Step, job.step_id) if job.step_id else None
            step = step or await new_run(session, card, StepKind.BUILD, [StepKind.BUILD])
            await queue_followup(
                session=session, settings=settings, card=card, step=step, kind=JobKind.FIX, failure=error
            )
            return True
        status = JobStatus.FAILED
    if status == JobStatus.COMPLETED and reported.unchanged:
        await _no_changes(session, job, card)
    elif status == JobStatus.FAILED and reported.conflict_files:
        card.conflict_files = sorted({*(card.conflict_files or []), *reported.conflict_files})
        announce.activity(
            session, card, ActivityKind.CONFLICT, {"files": reported.conflict_files, "job_id": str(job.id)}
        )
    await end_attempt(session=session, job=job, card=card, status=status, error=error)
    return True


async def _no_changes(session: AsyncSession, job: Job, card: Card) -> None:
    """The agent left an existing branch where it was: say so, and reopen the comments it was given."""
    job.no_changes = True
    announce.activity(session, card, ActivityKind.NO_CHANGES, {"job_id": str(job.id), "kind": job.kind})
    for comment in (await session.scalars(select(Comment).where(Comment.job_id == job.id))).all():
        comment.job_id = None
    log.info("job_changed_nothing", job_id=str(job.id), kind=job.kind)


async def end_attempt(
    *, session: AsyncSession, job: Job, card: Card | None, status: JobStatus, error: str | None
) -> None:
    """End the attempt in ``status`` and with it its step (and run); when it was the card's current
    attempt, the card moves (completed -> in_review, failed -> failed, cancelled -> todo)."""
    await attempts.finish(session=session, job=job, status=status, error=error)
    await _settle_step(session, job, status, error)
    if card is not None and card.job_id == job.id and card.status == CardStatus.IN_PROGRESS:
        target = CARD_AFTER[status]
        await columns.place(session, card, target, None)
        announce.activity(
            session, card, ActivityKind.STATUS, {"status": str(target), "job_id": str(job.id), "error": error}
        )
        announce.card_changed(session, card)
    await session.flush()
    announce.job_changed(session, job)


async def cancel_job(*, session: AsyncSession, job: Job) -> Job:
    """Cancel a queued job at once; ask a running one's runner to stop (it reports back cancelled)."""
    if job.status in ATTEMPTS.final:
        raise InvalidTransition(f"Job {job.id} is already {job.status}; there is nothing to cancel.")
    if job.status == JobStatus.QUEUED:
        card = await session.get(Card, job.card_id)
        await end_attempt(session=session, job=job, card=card, status=JobStatus.CANCELLED, error=None)
        return job
    await attempts.request_cancel(session=session, job=job)
    return job


async def expire_leases(
    *,
    session: AsyncSession,
    now: datetime | None = None,
    heard_from: Callable[[uuid.UUID, str, int], bool] | None = None,
    lease_ttl: float = 0.0,
) -> list[Job]:
    """Attempts whose lease ran out: requeue those lost before the agent started, fail the rest
    (a holder still heard from keeps its attempt: `attempts.expired`)."""
    expired = await attempts.expired(
        session=session, now=now or utcnow(), heard_from=heard_from, lease_ttl=lease_ttl
    )
    for job in expired:
        card = await session.get(Card, job.card_id)
        if job.agent_started_at is None and not job.cancel_requested:
            await attempts.requeue(session=session, job=job)
        elif job.stop_reason:  # LazyAF was stopping it (orchestration/stalls.py): it fails with the reason
            await end_attempt(
                session=session, job=job, card=card, status=JobStatus.FAILED, error=job.stop_reason
            )
        elif job.cancel_requested:
            await end_attempt(session=session, job=job, card=card, status=JobStatus.CANCELLED, error=None)
        else:
            reason = "Runner lost: it stopped sending heartbeats while running the agent."
            await end_attempt(session=session, job=job, card=card, status=JobStatus.FAILED, error=reason)
    return expired


async def fail_stale_timeouts(
    *, session: AsyncSession, settings: Settings, now: datetime | None = None
) -> list[Job]:
    """Running attempts far past the job timeout (the runner enforces it; this is the safety net)."""
    jobs = await attempts.overdue(session=session, settings=settings, now=now or utcnow())
    for job in jobs:
        card = await session.get(Card, job.card_id)
        error = f"Timed out: the job ran longer than {settings.job_timeout:.0f} s."
        await end_attempt(session=session, job=job, card=card, status=JobStatus.FAILED, error=error)
    return jobs
