"""A card's agent work: its runs and their steps; start them, queue attempts, settle what follows.

A card runs *runs* (``runs.models.Run``: a workflow preset on the card's branch, see
``workflows/presets``), a run has *steps* (``Step``, in order), a step has *attempts* (jobs,
``job.step_id``). This module is the workflow engine: when an attempt ends, ``complete_attempt``
/ ``end_attempt`` settle it, and a step that succeeded hands over to what follows in the same
transaction (``_advance``):

* a follow-up prompt queued meanwhile -> another attempt of the last agent step, resuming its
  session (``followup``), and the steps after it run again;
* a plan step of a run with ``review_plan`` -> the run waits, the card goes to review
  (``continue_after_review``, ``replan``, ``cancel_waiting`` are the reviewer's answers);
* a loop step whose progress file does not say done -> the next iteration, a step of its own;
* otherwise the next step begins (a verify step with no checks configured is skipped), or the
  run succeeded and the card goes to review.

A verify step's checks failing send the agent step before it back (another attempt, ``fix``,
with the output's tail) and the verify step waits to run again, up to the card's
``max_attempts`` attempts of that agent step; then the run fails. A step that fails ends the run
(the card to failed); a cancelled one cancels it (the card back to todo). ``retry_step`` reopens
the failed step (for a failed verify step: its agent step again, then the checks).

The attempt policy: each step gets ``card.max_attempts`` attempts (cancelled ones and a
person's follow-ups do not count); a loop step's iterations are bounded by ``run.max_iterations``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from lazyaf_protocol import messages as protocol
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents import service as agent_service
from lazyaf.cards.models import ActivityKind, Card, CardStatus, Comment
from lazyaf.errors import InvalidInput, InvalidTransition
from lazyaf.git import diff as git_diff
from lazyaf.git import files as git_files
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.github import prompt as github_prompt
from lazyaf.jobs import sessions as job_sessions
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.orchestration import announce, attempts, columns
from lazyaf.orchestration.states import ATTEMPTS, RUNS, STEPS
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runs.models import FollowUp, Run, RunStatus, Step, StepStatus
from lazyaf.settings import Settings
from lazyaf.workflows import paths, plan, presets, steps
from lazyaf.workflows.kinds import AGENT_STEPS, StepKind

log = structlog.get_logger(__name__)

CARD_AFTER: dict[JobStatus, CardStatus] = {
    JobStatus.COMPLETED: CardStatus.IN_REVIEW,
    JobStatus.FAILED: CardStatus.FAILED,
    JobStatus.CANCELLED: CardStatus.TODO,
}
"""Where a card goes when an attempt of no run (a job from before runs) ends in this status."""
CARD_AFTER_RUN: dict[RunStatus, CardStatus] = {
    RunStatus.SUCCEEDED: CardStatus.IN_REVIEW,
    RunStatus.WAITING: CardStatus.IN_REVIEW,
    RunStatus.FAILED: CardStatus.FAILED,
    RunStatus.CANCELLED: CardStatus.TODO,
}
"""Where a card goes when its run ends (or waits for a review)."""
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
FIRST_KIND: dict[StepKind, JobKind] = {
    StepKind.PLAN: JobKind.PLAN,
    StepKind.BUILD: JobKind.BUILD,
    StepKind.TEST: JobKind.TEST,
    StepKind.ITERATE: JobKind.ITERATE,
    StepKind.LOOP: JobKind.LOOP,
    StepKind.VERIFY: JobKind.VERIFY,
}
"""The kind of a step's first attempt."""
UNCOUNTED = (JobKind.VERIFY, JobKind.FOLLOWUP)
"""Attempts that do not count against ``max_attempts``: the harness's checks, a person's prompts."""
DIFF_LIMIT = 60_000
"""Characters of the branch's diff a fresh follow-up's prompt quotes."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def branch_name(card: Card) -> str:
    """``lazyaf/<short card id>-<slug of the title>``."""
    return f"lazyaf/{paths.card_slug(card)}"


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


@dataclass(frozen=True)
class _Start:
    base: str | None
    free: str | None
    catalog: presets.Catalog


def _starting_point(path: Path, default_branch: str, wanted: str | None) -> _Start:
    """What a start reads of the repo, in one worker-thread trip: the default branch's tip, (when
    ``wanted`` names a branch to make) the first free name like it, and the workflows there."""
    (base,) = git_refs.branch_shas(path, default_branch)
    if base is None:
        return _Start(None, None, presets.builtin())
    free = git_refs.free_branch_name(path, wanted) if wanted else None
    return _Start(base, free, presets.for_repo(path, base))


@dataclass(frozen=True)
class _Seen:
    """What an attempt's prompt reads of the repo (one worker-thread trip)."""

    base: str | None
    branch: str | None
    readme: str | None
    plan: str | None
    progress: str | None


def _read_for_prompt(path: Path, default_branch: str, branch: str, plan_file: str | None) -> _Seen:
    base, head = git_refs.branch_shas(path, default_branch, branch)
    readme = git_files.readme(path, base) if base else None
    text = progress = None
    if plan_file:
        at = head or base
        text = git_files.text_at(path, at, plan_file)
        progress = git_files.text_at(path, at, paths.progress_path(plan_file))
    return _Seen(base, head, readme, text, progress)


# --- runs and steps ---------------------------------------------------------------------------------


def new_run(
    session: AsyncSession,
    card: Card,
    workflow: str,
    kinds: Sequence[StepKind],
    *,
    review_plan: bool = False,
    max_iterations: int = presets.DEFAULT_MAX_ITERATIONS,
    plan_path: str | None = None,
    agent_config_from_base: bool = False,
    prompts: Sequence[str | None] = (),
) -> tuple[Run, list[Step]]:
    """A run of ``workflow`` (its steps of ``kinds``, in order, all pending) for the card; nothing
    starts yet (``_begin``). ``prompts``: the first attempt's prompt of each step, when the caller
    has its own (a GitHub command); the rest are rendered when their step begins."""
    needs_plan = StepKind.PLAN in kinds or StepKind.LOOP in kinds
    run = Run(
        id=uuid.uuid4(),
        card_id=card.id,
        workflow=workflow,
        status=RunStatus.RUNNING,
        started_at=utcnow(),
        review_plan=review_plan and StepKind.PLAN in kinds,
        max_iterations=max_iterations,
        plan_path=plan_path or (paths.plan_path(card) if needs_plan else None),
        agent_config_from_base=agent_config_from_base,
    )
    given = list(prompts) + [None] * (len(kinds) - len(prompts))
    rows = [
        Step(
            id=uuid.uuid4(),
            run_id=run.id,
            position=i,
            kind=kind,
            status=StepStatus.PENDING,
            iteration=1 if kind == StepKind.LOOP else None,
            prompt=given[i],
        )
        for i, kind in enumerate(kinds)
    ]
    session.add_all([run, *rows])
    log.info("run_created", run_id=str(run.id), card_id=str(card.id), workflow=workflow)
    return run, rows


def _move_step(step: Step, target: StepStatus, error: str | None = None) -> None:
    STEPS.require(step.status, target)
    step.status = target
    if target == StepStatus.RUNNING:
        step.started_at = step.started_at or utcnow()
        step.finished_at = None
    elif target == StepStatus.PENDING:
        step.finished_at, step.error = None, error
    else:
        step.finished_at, step.error = utcnow(), error


def _move_run(run: Run, target: RunStatus, error: str | None = None) -> None:
    RUNS.require(run.status, target)
    run.status = target
    if target in (RunStatus.RUNNING, RunStatus.WAITING):
        run.finished_at, run.error = None, None
    else:
        run.finished_at, run.error = utcnow(), error
        log.info("run_finished", run_id=str(run.id), status=target)


async def _steps_of(session: AsyncSession, run: Run) -> list[Step]:
    return list(
        (await session.scalars(select(Step).where(Step.run_id == run.id).order_by(Step.position))).all()
    )


async def latest_run(session: AsyncSession, card: Card) -> Run | None:
    return await session.scalar(
        select(Run)
        .where(Run.card_id == card.id)
        .order_by(Run.started_at.desc(), Run.created_at.desc())
        .limit(1)
    )


async def _step_jobs(session: AsyncSession, step: Step) -> list[Job]:
    return list(
        (
            await session.scalars(
                select(Job).where(Job.step_id == step.id).order_by(Job.queued_at, Job.created_at)
            )
        ).all()
    )


async def _last_job(session: AsyncSession, step: Step) -> Job | None:
    jobs = await _step_jobs(session, step)
    return jobs[-1] if jobs else None


async def step_attempts(session: AsyncSession, step: Step) -> int:
    """Attempts of ``step`` that count against the card's ``max_attempts``."""
    count = await session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.step_id == step.id, Job.status != JobStatus.CANCELLED, Job.kind.not_in(UNCOUNTED))
    )
    return int(count or 0)


async def attempts_used(session: AsyncSession, card: Card) -> int:
    """Agent passes this card has had (cancelled ones, checks and follow-ups do not count)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.card_id == card.id, Job.status != JobStatus.CANCELLED, Job.kind.not_in(UNCOUNTED))
    )
    return int(count or 0)


def _out_of_attempts(card: Card) -> InvalidTransition:
    return InvalidTransition(
        f"Card '{card.title}' has used all {card.max_attempts} of its attempts; "
        "raise its max_attempts to try again."
    )


async def check_attempts_left(session: AsyncSession, card: Card, step: Step | None = None) -> None:
    """A 409 when ``step`` (or, without one, the card) has used all the card's attempts."""
    used = await step_attempts(session, step) if step is not None else await attempts_used(session, card)
    if used >= card.max_attempts:
        raise _out_of_attempts(card)


async def _last_agent_job(session: AsyncSession, card: Card) -> Job | None:
    """The card's latest attempt that ran an agent (the session a new iterate step resumes)."""
    return await session.scalar(
        select(Job)
        .where(Job.card_id == card.id, Job.kind != JobKind.VERIFY)
        .order_by(Job.queued_at.desc(), Job.created_at.desc())
        .limit(1)
    )


# --- starting and queueing ------------------------------------------------------------------------


async def start(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    workflow: str | None = None,
    review_plan: bool = False,
    position: int | None = None,
    agent: str | None = None,
    fresh: bool = False,
) -> Job:
    """Start a card's run of ``workflow`` (None: the repo's default): its first step's attempt
    queued, the card in progress (the caller checked the card may start). The card goes on with
    its branch; with ``fresh`` (or when it has none) it gets a new one, made from the default
    branch under a name no branch has yet. An unknown workflow is a 422 listing the known ones."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    wanted = branch_name(card) if fresh or not card.branch_name else None
    found = await in_thread(_starting_point, git_path(settings, repo), repo.default_branch, wanted)
    if found.base is None:
        raise _no_base(repo)
    name = workflow or paths.default_workflow(repo)
    preset = found.catalog.get(name)
    if preset is None:
        raise InvalidInput(presets.unknown_workflow(name, found.catalog))
    card.branch_name = found.free or card.branch_name
    run, rows = new_run(
        session,
        card,
        preset.name,
        preset.steps,
        review_plan=review_plan,
        max_iterations=preset.max_iterations,
    )
    return await _begin(
        session,
        settings,
        card=card,
        repo=repo,
        run=run,
        step=rows[0],
        agent=agent,
        position=position,
        total=len(rows),
    )


async def start_run(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    run: Run,
    rows: list[Step],
    agent: str | None = None,
    ask: JobKind | None = None,
) -> Job:
    """Begin the first step of a run made with ``new_run`` (the card moves to in_progress); ``ask``:
    its first attempt's kind, when not the step's own (``refine``, which resumes the session)."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    first = steps.Ask(ask) if ask is not None else None
    return await _begin(
        session, settings, card=card, repo=repo, run=run, step=rows[0], ask=first, agent=agent
    )


async def _begin(
    session: AsyncSession,
    settings: Settings,
    *,
    card: Card,
    repo: Repo,
    run: Run,
    step: Step,
    ask: steps.Ask | None = None,
    agent: str | None = None,
    position: int | None = None,
    previous: Job | None = None,
    total: int | None = None,
    quiet: bool = False,
) -> Job:
    """Begin a pending step: its first attempt is queued. ``previous``: the attempt that ended the
    step before (its agent goes on); ``quiet``: the caller announces the run."""
    _move_step(step, StepStatus.RUNNING)
    return await _queue_step_attempt(
        session,
        settings,
        card=card,
        repo=repo,
        run=run,
        step=step,
        ask=ask or steps.Ask(FIRST_KIND[step.kind]),
        agent=agent,
        position=position,
        previous=previous,
        fresh=True,
        total=total,
        quiet=quiet,
    )


def checks_for(job: Job, repo: Repo) -> list[protocol.VerifyStep]:
    """The checks a runner runs in ``job``'s attempt: a verify step's (no agent), and a loop
    iteration's (their output goes to the next iteration); an agent step's attempt runs none (its
    run's verify step does). A job of no run runs them after its agent, as before runs."""
    if job.step_id is None or job.kind in (JobKind.VERIFY, JobKind.LOOP):
        return _checks(repo)
    return []


async def trailers(session: AsyncSession, job: Job) -> dict[str, str]:
    """The git trailers of the commit the harness makes for ``job``'s attempt."""
    found = {"LazyAF-Card": str(job.card_id)}
    if job.step_id is not None:
        run_id = await session.scalar(select(Step.run_id).where(Step.id == job.step_id))
        if run_id is not None:
            found["LazyAF-Run"] = str(run_id)
        found["LazyAF-Step"] = str(job.step_id)
    return found


def _checks(repo: Repo) -> list[protocol.VerifyStep]:
    return [
        protocol.VerifyStep(name=name, command=command)
        for name, command in (
            ("setup", repo.setup_command),
            ("lint", repo.lint_command),
            ("test", repo.test_command),
            ("build", repo.build_command),
        )
        if command
    ]


async def _queue_step_attempt(
    session: AsyncSession,
    settings: Settings,
    *,
    card: Card,
    repo: Repo,
    run: Run,
    step: Step,
    ask: steps.Ask,
    agent: str | None = None,
    previous: Job | None = None,
    position: int | None = None,
    fresh: bool = False,
    total: int | None = None,
    quiet: bool = False,
) -> Job:
    """Queue an attempt of the (running) ``step``: its prompt rendered from what the repo holds
    now (the plan, the progress file, the README), resuming ``previous``'s session when the
    attempt continues it (a retry, a fix, a follow-up, a refine, an iterate step). ``fresh``: the
    step has no attempt yet; ``total``: the run's steps, when the caller counted them."""
    branch = card.branch_name or branch_name(card)
    plan_file = run.plan_path if step.kind != StepKind.VERIFY else None
    seen = await in_thread(_read_for_prompt, git_path(settings, repo), repo.default_branch, branch, plan_file)
    if seen.base is None:
        raise _no_base(repo)
    if step.start_sha is None:
        step.start_sha = seen.branch or seen.base
    resuming = step.kind != StepKind.VERIFY and steps.resumes(step.kind, ask.kind)
    last_agent = previous
    if last_agent is None and (agent is None or resuming):
        last_agent = await _last_agent_job(session, card)
    agent = agent or (last_agent.agent if last_agent else None) or settings.default_agent
    if step.kind == StepKind.VERIFY:
        return await queue_attempt(
            session=session,
            settings=settings,
            card=card,
            step=step,
            repo=repo,
            base_sha=seen.base,
            kind=JobKind.VERIFY,
            prompt="Run the repository's checks on the branch (no agent).",
            agent=agent,
            position=position,
            run=run,
            quiet=quiet,
        )
    resume = await job_sessions.resumable(settings, last_agent, agent) if resuming else None
    earlier = [] if fresh else await _step_jobs(session, step)
    if step.prompt is not None and not earlier:
        prompt = step.prompt  # the starter's own prompt for the step's first attempt
    else:
        needs_diff = resume is None and steps.quotes_diff(step.kind, ask.kind)
        prompt = await steps.render(
            settings,
            card=card,
            repo=repo,
            run=run,
            step=step,
            total=total if total is not None else await _count_steps(session, run),
            ask=ask,
            attempt=len(earlier) + 1,
            resumed=resume is not None,
            readme=seen.readme,
            github=await github_prompt.issue_context(session, card),
            plan_text=seen.plan,
            progress_text=seen.progress,
            test_paths=paths.test_paths(repo),
            diff=await _branch_patch(settings, repo, card) if needs_diff else "",
        )
    return await queue_attempt(
        session=session,
        settings=settings,
        card=card,
        step=step,
        repo=repo,
        base_sha=seen.base,
        kind=ask.kind,
        prompt=prompt,
        agent=agent,
        resume_session=resume,
        position=position,
        run=run,
        quiet=quiet,
    )


async def _count_steps(session: AsyncSession, run: Run) -> int:
    return int(await session.scalar(select(func.count()).select_from(Step).where(Step.run_id == run.id)) or 0)


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
    run: Run | None = None,
    quiet: bool = False,
) -> Job:
    """Queue an attempt of ``kind`` of the (running) ``step`` on the card's branch (based on
    ``base_sha``); the card moves to in_progress if it is not there yet. The run's board event,
    unless ``quiet`` (the caller records it once, with its other changes)."""
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
        agent_config_from_base=bool(run and run.agent_config_from_base),
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
    if run is not None and not quiet:
        await announce.run_changed(session, run, card.repo_id)
    log.info("job_queued", job_id=str(job.id), card_id=str(card.id), agent=job.agent, kind=kind)
    return job


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


# --- a person's moves on a run ---------------------------------------------------------------------


async def retry_step(
    *, session: AsyncSession, settings: Settings, card: Card, agent: str | None = None
) -> Job:
    """Another attempt of the failed step of the card's last run (its run running again), told
    why the last one failed. A failed verify step sends its agent step back first. A card whose
    last job had no step gets a new run of the repo's default workflow."""
    previous = await session.get(Job, card.job_id) if card.job_id else None
    step = await session.get(Step, previous.step_id) if previous and previous.step_id else None
    run = await session.get(Run, step.run_id) if step else None
    if step is None or run is None or step.status != StepStatus.FAILED:
        await check_attempts_left(session, card)
        agent = agent or (previous.agent if previous else settings.default_agent)
        await agent_service.require(session=session, settings=settings, agent=agent)
        return await start(session=session, settings=settings, card=card, agent=agent)
    repo, _ = await repo_with_base(session, settings, card)
    failure = (previous.error if previous else None) or step.error or "The previous attempt failed."
    checks_failed = previous is not None and any(v.get("exit_code") != 0 for v in previous.verification or [])
    if step.kind == StepKind.VERIFY and checks_failed:
        back = await _agent_step_before(session, run, step)
        if back is None:
            raise InvalidTransition(f"Card '{card.title}': its run has no agent step to send back.")
        await check_attempts_left(session, card, back)
        await _require_agent(session, settings, agent, back)
        _move_run(run, RunStatus.RUNNING)
        _move_step(step, StepStatus.PENDING, failure)
        return await _send_back(
            session,
            settings,
            card=card,
            repo=repo,
            run=run,
            step=back,
            ask=steps.Ask(JobKind.FIX, failure=failure),
        )
    await check_attempts_left(session, card, step)
    await _require_agent(session, settings, agent, step)
    _move_run(run, RunStatus.RUNNING)
    _move_step(step, StepStatus.RUNNING)
    if card.conflict_files:  # the branch still conflicts: the new pass merges the base in again
        ask = steps.Ask(JobKind.RESOLVE, conflicts=list(card.conflict_files))
    else:
        ask = steps.Ask(JobKind.RETRY, failure=failure)
    return await _queue_step_attempt(
        session,
        settings,
        card=card,
        repo=repo,
        run=run,
        step=step,
        ask=ask,
        agent=agent,
        previous=await _last_job(session, step),
    )


async def _require_agent(session: AsyncSession, settings: Settings, agent: str | None, step: Step) -> None:
    """Refuse (nothing written) when no runner could run the agent a person's request queues."""
    if agent is None:
        jobs = await _step_jobs(session, step)
        agent = jobs[-1].agent if jobs else settings.default_agent
    await agent_service.require(session=session, settings=settings, agent=agent)


async def iterate(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    comments: Sequence[Comment] = (),
    conflicts: Sequence[str] = (),
    followups: Sequence[str] = (),
    agent: str | None = None,
) -> Job:
    """A new ``iterate`` run on a reviewed card's branch: its first attempt addresses the
    comments (or resolves the conflicts, or carries a person's prompt), resuming the card's last
    agent session; the repo's checks follow."""
    repo, _ = await repo_with_base(session, settings, card)
    catalog = await in_thread(presets.catalog_at, git_path(settings, repo), repo.default_branch)
    preset = catalog.get("iterate") or presets.builtin().workflows["iterate"]
    last = await _last_agent_job(session, card)
    agent = agent or (last.agent if last else settings.default_agent)
    await agent_service.require(session=session, settings=settings, agent=agent)
    run, rows = new_run(session, card, preset.name, preset.steps, max_iterations=preset.max_iterations)
    first = rows[0]
    kind = JobKind.RESOLVE if conflicts else FIRST_KIND[first.kind]
    ask = steps.Ask(kind, comments=list(comments), conflicts=list(conflicts), followups=list(followups))
    return await _begin(session, settings, card=card, repo=repo, run=run, step=first, ask=ask, agent=agent)


async def waiting_run(session: AsyncSession, card: Card) -> Run | None:
    """The card's last run, if it waits for its plan's review."""
    run = await latest_run(session, card)
    return run if run is not None and run.status == RunStatus.WAITING else None


async def continue_after_review(
    *, session: AsyncSession, settings: Settings, card: Card, run: Run
) -> Job | None:
    """The plan was approved: the run goes on with the step after it (the card back in progress).
    None when nothing followed the plan (the run succeeded; the card stays in review)."""
    _move_run(run, RunStatus.RUNNING)
    rows = await _steps_of(session, run)
    plan_step = next(
        s for s in reversed(rows) if s.kind == StepKind.PLAN and s.status == StepStatus.SUCCEEDED
    )
    job = await _next_step(session, settings, card=card, run=run, rows=rows, after=plan_step)
    await session.flush()
    await announce.run_changed(session, run, card.repo_id)
    return job


async def replan(
    *,
    session: AsyncSession,
    settings: Settings,
    card: Card,
    run: Run,
    comments: Sequence[Comment] = (),
    followups: Sequence[str] = (),
) -> Job:
    """The plan's review asked for changes: the plan step runs again (``refine``), resuming its
    session, with the comments; the run is running again."""
    rows = await _steps_of(session, run)
    plan_step = next(s for s in reversed(rows) if s.kind == StepKind.PLAN)
    await _require_agent(session, settings, None, plan_step)
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    _move_run(run, RunStatus.RUNNING)
    ask = steps.Ask(JobKind.REFINE, comments=list(comments), followups=list(followups))
    return await _send_back(session, settings, card=card, repo=repo, run=run, step=plan_step, ask=ask)


async def cancel_waiting(*, session: AsyncSession, card: Card, run: Run) -> None:
    """The plan's review rejected it: the waiting run ends, cancelled, its later steps skipped."""
    for later in await _steps_of(session, run):
        if later.status == StepStatus.PENDING:
            _move_step(later, StepStatus.SKIPPED)
    _move_run(run, RunStatus.CANCELLED, "The plan was rejected in review.")
    await session.flush()
    await announce.run_changed(session, run, card.repo_id)


async def add_followup(
    *, session: AsyncSession, settings: Settings, card: Card, text: str
) -> tuple[FollowUp, Job | None, Run | None]:
    """A person's follow-up prompt: queued while the card's run works (delivered as the next turn
    of the running step's session when it ends); on a card in review, the next turn now (a
    waiting plan is re-planned with it; otherwise an ``iterate`` run resumes the session)."""
    followup = FollowUp(card_id=card.id, text=text)
    if card.status == CardStatus.IN_PROGRESS:
        session.add(followup)
        await session.flush()
        run = await latest_run(session, card)
        announce.activity(
            session, card, ActivityKind.PROMPT, {"followup_id": str(followup.id), "queued": True}
        )
        return followup, None, run
    if card.status != CardStatus.IN_REVIEW:
        what = {
            CardStatus.TODO: "start it first (its agent has no session yet)",
            CardStatus.FAILED: "retry it first, then send the prompt while it runs",
            CardStatus.DONE: "it is merged; create a new card for more work",
        }[card.status]
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: {what}.")
    run = await waiting_run(session, card)
    if run is not None:
        job = await replan(session=session, settings=settings, card=card, run=run, followups=[text])
    else:
        job = await iterate(session=session, settings=settings, card=card, followups=[text])
        run = await session.get(Run, (await session.get(Step, job.step_id)).run_id) if job.step_id else None  # type: ignore[union-attr]
    followup.job_id, followup.delivered_at = job.id, utcnow()
    session.add(followup)
    await session.flush()
    announce.activity(
        session, card, ActivityKind.PROMPT, {"followup_id": str(followup.id), "job_id": str(job.id)}
    )
    return followup, job, run


# --- when an attempt ends --------------------------------------------------------------------------


def verification_failure(result: protocol.VerifyResult) -> str:
    how = "timed out" if result.exit_code is None else f"exited with code {result.exit_code}"
    tail = result.output.strip()[-3000:]
    return f"Verification failed: {result.name} (`{result.command}`) {how}.\n{tail}".rstrip()


async def path_rule(session: AsyncSession, job: Job) -> attempts.PathRule | None:
    """What the harness allows ``job``'s attempt to change: a plan step only its plan document, a
    test step only test files (the repo's ``test_paths``); None: anything."""
    if job.step_id is None:
        return None
    found = (
        await session.execute(
            select(Step, Run).join(Run, Run.id == Step.run_id).where(Step.id == job.step_id)
        )
    ).one_or_none()
    if found is None:
        return None
    step, run = found
    if step.kind == StepKind.PLAN and run.plan_path:
        plan_file = run.plan_path
        return attempts.PathRule([plan_file], lambda touched: paths.plan_refusal(plan_file, touched))
    if step.kind == StepKind.TEST:
        card = await session.get(Card, job.card_id)
        repo = await session.get(Repo, card.repo_id) if card else None
        globs = paths.test_paths(repo)
        return attempts.PathRule(globs, paths.test_refusal)
    return None


async def complete_attempt(
    *, session: AsyncSession, settings: Settings, message: protocol.Complete, runner_id: uuid.UUID
) -> bool:
    """A runner reported how its attempt ended: record it (``attempts.complete``), then settle what
    follows. False: the attempt was fenced off, or ``runner_id`` is not the runner holding it; a
    resent completion already recorded answers True and changes nothing."""
    reported = await attempts.complete(
        session=session, settings=settings, message=message, runner_id=runner_id, path_rule=path_rule
    )
    if isinstance(reported, bool):
        return reported
    job, card, status, error = reported.job, reported.card, reported.status, reported.error
    if status == JobStatus.COMPLETED and reported.failed_check is not None and job.kind != JobKind.LOOP:
        error = verification_failure(reported.failed_check)
        if job.kind == JobKind.VERIFY and job.step_id is not None:
            await _checks_failed(session, settings, job=job, card=card, error=error)
            return True
        status = JobStatus.FAILED  # checks a runner ran inside an agent's attempt (a job from before)
    if status == JobStatus.COMPLETED and reported.unchanged and job.kind != JobKind.VERIFY:
        await _no_changes(session, job, card)
    elif status == JobStatus.FAILED and reported.conflict_files:
        card.conflict_files = sorted({*(card.conflict_files or []), *reported.conflict_files})
        announce.activity(
            session, card, ActivityKind.CONFLICT, {"files": reported.conflict_files, "job_id": str(job.id)}
        )
    await end_attempt(
        session=session,
        settings=settings,
        job=job,
        card=card,
        status=status,
        error=error,
        known=reported.progress,
    )
    return True


async def _checks_failed(
    session: AsyncSession, settings: Settings, *, job: Job, card: Card, error: str
) -> None:
    """A verify step's checks failed: the agent step before it gets another attempt with their
    output (the verify step waits to run again), or, out of attempts, the run fails."""
    step = await session.get(Step, job.step_id)
    run = await session.get(Run, step.run_id) if step else None
    assert step is not None and run is not None
    back = await _agent_step_before(session, run, step)
    if back is None or await step_attempts(session, back) >= card.max_attempts:
        await end_attempt(
            session=session, settings=settings, job=job, card=card, status=JobStatus.FAILED, error=error
        )
        return
    await attempts.finish(session=session, job=job, status=JobStatus.FAILED, error=error)
    await session.flush()
    announce.job_changed(session, job)
    _move_step(step, StepStatus.PENDING, error)
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    await _send_back(
        session, settings, card=card, repo=repo, run=run, step=back, ask=steps.Ask(JobKind.FIX, failure=error)
    )


async def _agent_step_before(session: AsyncSession, run: Run, step: Step) -> Step | None:
    return await session.scalar(
        select(Step)
        .where(Step.run_id == run.id, Step.position < step.position, Step.kind.in_(list(AGENT_STEPS)))
        .order_by(Step.position.desc())
        .limit(1)
    )


async def _send_back(
    session: AsyncSession,
    settings: Settings,
    *,
    card: Card,
    repo: Repo,
    run: Run,
    step: Step,
    ask: steps.Ask,
    quiet: bool = False,
) -> Job:
    """``step`` (an agent step that succeeded, or is running again) gets another attempt, resuming
    its last session; the steps after it that ran wait to run again."""
    for later in await _steps_of(session, run):
        if later.position > step.position and later.status in (StepStatus.SUCCEEDED, StepStatus.RUNNING):
            _move_step(later, StepStatus.PENDING, later.error)
    if step.status != StepStatus.RUNNING:
        _move_step(step, StepStatus.RUNNING)
    return await _queue_step_attempt(
        session,
        settings,
        card=card,
        repo=repo,
        run=run,
        step=step,
        ask=ask,
        previous=await _last_job(session, step),
        quiet=quiet,
    )


async def _no_changes(session: AsyncSession, job: Job, card: Card) -> None:
    """The agent left an existing branch where it was: say so, and reopen the comments it was given."""
    job.no_changes = True
    announce.activity(session, card, ActivityKind.NO_CHANGES, {"job_id": str(job.id), "kind": job.kind})
    for comment in (await session.scalars(select(Comment).where(Comment.job_id == job.id))).all():
        comment.job_id = None
    log.info("job_changed_nothing", job_id=str(job.id), kind=job.kind)


async def end_attempt(
    *,
    session: AsyncSession,
    job: Job,
    card: Card | None,
    status: JobStatus,
    error: str | None,
    settings: Settings | None = None,
    known: tuple[str, str, git_diff.Progress] | None = None,
) -> None:
    """End the attempt in ``status`` and with it its step; a step that succeeded hands over to what
    follows (``settings`` is needed then: the next attempt's prompt is rendered). When the run
    ended or waits for a review and this was the card's current attempt, the card moves
    (succeeded or waiting -> in_review, failed -> failed, cancelled -> todo)."""
    await attempts.finish(session=session, job=job, status=status, error=error)
    run_status = await _settle_step(session, settings, job, card, status, error, known)
    if card is not None and card.job_id == job.id and card.status == CardStatus.IN_PROGRESS:
        target = CARD_AFTER[status] if run_status is None else CARD_AFTER_RUN.get(run_status)
        if target is not None:
            await columns.place(session, card, target, None)
            announce.activity(
                session,
                card,
                ActivityKind.STATUS,
                {"status": str(target), "job_id": str(job.id), "error": error},
            )
            announce.card_changed(session, card)
    await session.flush()
    announce.job_changed(session, job)


async def _settle_step(
    session: AsyncSession,
    settings: Settings | None,
    job: Job,
    card: Card | None,
    status: JobStatus,
    error: str | None,
    known: tuple[str, str, git_diff.Progress] | None = None,
) -> RunStatus | None:
    """The attempt ``job`` ended its step (no other attempt follows): the step ends in kind, and
    the run goes on or ends. The run's status after (None: a job of no run)."""
    if job.step_id is None:
        return None  # a job from before runs
    found = (await session.execute(select(Step, Run).join(Run).where(Step.id == job.step_id))).one_or_none()
    if found is None:
        return None
    step, run = found
    if step.status != StepStatus.RUNNING or card is None:
        return run.status  # a step already settled
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    if status == JobStatus.COMPLETED:
        assert settings is not None, "a step that succeeded hands over: end_attempt needs settings"
        await _record_progress(settings, repo, card, step, job.head_sha, known)
        finished = step.kind != StepKind.LOOP or await _loop_finished(session, settings, repo, card, run, job)
        if not finished:
            if (step.iteration or 1) >= run.max_iterations:
                progress = paths.progress_path(run.plan_path or "")
                error = (
                    f"The long task did not finish in {run.max_iterations} iterations: its progress file "
                    f"({progress}) does not say done: true, or the checks fail."
                )
                status = JobStatus.FAILED
        if status == JobStatus.COMPLETED:
            _move_step(step, StepStatus.SUCCEEDED)
            await _advance(
                session, settings, card=card, repo=repo, run=run, step=step, job=job, finished=finished
            )
            await session.flush()
            await announce.run_changed(session, run, card.repo_id)
            return run.status
    _move_step(step, STEP_AFTER[status], error)
    await _end_run(session, run, step)
    if run.status == RunStatus.CANCELLED:
        await session.execute(delete(FollowUp).where(FollowUp.card_id == card.id, FollowUp.job_id.is_(None)))
    await session.flush()
    await announce.run_changed(session, run, card.repo_id)
    return run.status


async def _end_run(session: AsyncSession, run: Run, step: Step) -> None:
    """The run ends with ``step`` (its status decides). A cancelled run skips the steps it never
    reached; a failed one keeps them pending, for a retry of the failed step to go on with."""
    target = RUN_AFTER[step.status]
    if target == RunStatus.CANCELLED:
        for later in await _steps_of(session, run):
            if later.status == StepStatus.PENDING:
                _move_step(later, StepStatus.SKIPPED)
    _move_run(run, target, step.error)


async def _record_progress(
    settings: Settings,
    repo: Repo,
    card: Card,
    step: Step,
    head: str | None,
    known: tuple[str, str, git_diff.Progress] | None = None,
) -> None:
    """The step's git progress from refs: the card branch now (``head``, the attempt's, which the
    branch was moved to) against where it was when the step began; ``known``: what the path check
    already read, (from, to, progress), reused when it covers the same range."""
    path = git_path(settings, repo)
    if head is None:
        (head,) = await in_thread(git_refs.branch_shas, path, card.branch_name or "")
    if head is None or step.start_sha is None:
        return
    if known is not None and known[:2] == (step.start_sha, head):
        found = known[2]
    else:
        try:
            found = await in_thread(git_diff.progress, path, step.start_sha, head)
        except git_diff.GitError:
            log.warning("step_progress_unreadable", step_id=str(step.id), start=step.start_sha, head=head)
            return
    step.head_sha = head
    step.commits, step.files_changed = found.commits, found.files_changed
    step.lines_added, step.lines_removed = found.lines_added, found.lines_removed


async def _loop_finished(
    session: AsyncSession, settings: Settings, repo: Repo, card: Card, run: Run, job: Job
) -> bool:
    """A long task is finished when its progress file says done and its checks passed."""
    checks_ok = all(v.get("exit_code") == 0 for v in job.verification or [])
    if not checks_ok or not run.plan_path:
        return False
    (head,) = await in_thread(git_refs.branch_shas, git_path(settings, repo), card.branch_name or "")
    text = await in_thread(
        git_files.text_at, git_path(settings, repo), head, paths.progress_path(run.plan_path)
    )
    return plan.progress_done(text)


async def _advance(
    session: AsyncSession,
    settings: Settings,
    *,
    card: Card,
    repo: Repo,
    run: Run,
    step: Step,
    job: Job,
    finished: bool = True,
) -> None:
    """What follows a step that succeeded (the module docstring lists the cases, in order)."""
    queued = list(
        (
            await session.scalars(
                select(FollowUp)
                .where(FollowUp.card_id == card.id, FollowUp.job_id.is_(None))
                .order_by(FollowUp.created_at)
            )
        ).all()
    )
    back = step if step.kind in AGENT_STEPS else await _agent_step_before(session, run, step)
    if queued and back is not None:
        ask = steps.Ask(JobKind.FOLLOWUP, followups=[f.text for f in queued])
        sent = await _send_back(
            session, settings, card=card, repo=repo, run=run, step=back, ask=ask, quiet=True
        )
        for followup in queued:
            followup.job_id, followup.delivered_at = sent.id, utcnow()
        return
    if step.kind == StepKind.PLAN and run.review_plan:
        _move_run(run, RunStatus.WAITING)
        log.info("run_waits_for_review", run_id=str(run.id), card_id=str(card.id))
        return
    rows = await _steps_of(session, run)
    if step.kind == StepKind.LOOP and not finished:
        following = Step(
            id=uuid.uuid4(),
            run_id=run.id,
            position=step.position + 1,
            kind=StepKind.LOOP,
            status=StepStatus.PENDING,
            iteration=(step.iteration or 1) + 1,
        )
        await _make_room(session, run, step.position + 1)
        session.add(following)
        await session.flush()
        checks = "\n\n".join(
            f"{v.get('name')} (`{v.get('command')}`) exited with {v.get('exit_code')}:\n{v.get('output', '')}"
            for v in job.verification or []
        )
        await _begin(
            session,
            settings,
            card=card,
            repo=repo,
            run=run,
            step=following,
            ask=steps.Ask(JobKind.LOOP, checks=checks),
            previous=job,
            quiet=True,
        )
        return
    await _next_step(session, settings, card=card, run=run, rows=rows, after=step, previous=job)


async def _make_room(session: AsyncSession, run: Run, position: int) -> None:
    """Shift the run's steps at ``position`` and after one place down (highest first: the
    (run, position) pairs stay unique at every row's update)."""
    later = (
        await session.scalars(
            select(Step)
            .where(Step.run_id == run.id, Step.position >= position)
            .order_by(Step.position.desc())
        )
    ).all()
    for row in later:
        await session.execute(update(Step).where(Step.id == row.id).values(position=row.position + 1))
    for row in later:
        await session.refresh(row, ["position"])


async def _next_step(
    session: AsyncSession,
    settings: Settings,
    *,
    card: Card,
    run: Run,
    rows: list[Step],
    after: Step,
    previous: Job | None = None,
) -> Job | None:
    """Begin the first pending step after ``after`` (verify steps with no checks are skipped);
    when none is left, the run succeeded. The job queued, if any; the caller announces the run."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    for row in rows:
        if row.position <= after.position or row.status != StepStatus.PENDING:
            continue
        if row.kind == StepKind.VERIFY and not _checks(repo):
            _move_step(row, StepStatus.SKIPPED)
            continue
        return await _begin(
            session,
            settings,
            card=card,
            repo=repo,
            run=run,
            step=row,
            previous=previous,
            total=len(rows),
            quiet=True,
        )
    _move_run(run, RunStatus.SUCCEEDED)
    return None


async def resume_stalled(*, session: AsyncSession, settings: Settings) -> list[Run]:
    """Runs left running with no step running (a hand-over cut short): their next step begins.
    The hand-over is one transaction with the step's end, so this finds nothing unless a start-up
    or a bug left one behind; it runs with the reaper's sweeps."""
    running_step = select(Step.id).where(Step.run_id == Run.id, Step.status == StepStatus.RUNNING).exists()
    stalled = (
        await session.scalars(select(Run).where(Run.status == RunStatus.RUNNING, ~running_step).limit(20))
    ).all()
    for run in stalled:
        card = await session.get(Card, run.card_id)
        if card is None:
            continue
        rows = await _steps_of(session, run)
        done = [r for r in rows if r.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)]
        if not done:
            continue
        log.warning("run_resumed", run_id=str(run.id), after=done[-1].position)
        await _next_step(session, settings, card=card, run=run, rows=rows, after=done[-1])
        if run.status == RunStatus.SUCCEEDED and card.status == CardStatus.IN_PROGRESS:
            await columns.place(session, card, CardStatus.IN_REVIEW, None)
            announce.card_changed(session, card)
        await session.flush()
        await announce.run_changed(session, run, card.repo_id)
    return list(stalled)


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
