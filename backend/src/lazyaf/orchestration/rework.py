"""A person's moves on a run: retry its failed step, iterate on a reviewed card, approve, re-plan or
reject a plan waiting for its review, and follow-up prompts. Each checks what the person may do,
then hands the run to the engine (``runs``: ``begin``, ``send_back``, ``next_step``), which queues
the attempt; like the engine, these functions flush and do not commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents import service as agent_service
from lazyaf.cards.models import ActivityKind, Card, CardStatus, Comment
from lazyaf.errors import InvalidTransition
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import Job, JobKind
from lazyaf.orchestration import announce
from lazyaf.orchestration.runs import (
    FIRST_KIND,
    agent_step_before,
    begin,
    check_attempts_left,
    last_agent_job,
    last_job,
    latest_run,
    move_run,
    move_step,
    new_run,
    next_step,
    queue_step_attempt,
    repo_with_base,
    send_back,
    start,
    step_jobs,
    steps_of,
    utcnow,
)
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runs.models import FollowUp, Run, RunStatus, Step, StepStatus
from lazyaf.settings import Settings
from lazyaf.workflows import presets, steps
from lazyaf.workflows.kinds import StepKind


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
        back = await agent_step_before(session, run, step)
        if back is None:
            raise InvalidTransition(f"Card '{card.title}': its run has no agent step to send back.")
        await check_attempts_left(session, card, back)
        await require_agent(session, settings, agent, back)
        move_run(run, RunStatus.RUNNING)
        move_step(step, StepStatus.PENDING, failure)
        return await send_back(
            session,
            settings,
            card=card,
            repo=repo,
            run=run,
            step=back,
            ask=steps.Ask(JobKind.FIX, failure=failure),
        )
    await check_attempts_left(session, card, step)
    await require_agent(session, settings, agent, step)
    if step.kind == StepKind.LOOP and (step.iteration or 1) >= run.max_iterations:
        run.max_iterations += 1  # a long task out of iterations: the retry is one more
    move_run(run, RunStatus.RUNNING)
    move_step(step, StepStatus.RUNNING)
    if card.conflict_files:  # the branch still conflicts: the new pass merges the base in again
        ask = steps.Ask(JobKind.RESOLVE, conflicts=list(card.conflict_files))
    else:
        ask = steps.Ask(JobKind.RETRY, failure=failure)
    return await queue_step_attempt(
        session,
        settings,
        card=card,
        repo=repo,
        run=run,
        step=step,
        ask=ask,
        agent=agent,
        previous=await last_job(session, step),
    )


async def require_agent(session: AsyncSession, settings: Settings, agent: str | None, step: Step) -> None:
    """Refuse (nothing written) when no runner could run the agent a person's request queues."""
    if agent is None:
        jobs = await step_jobs(session, step)
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
    last = await last_agent_job(session, card)
    agent = agent or (last.agent if last else settings.default_agent)
    await agent_service.require(session=session, settings=settings, agent=agent)
    run, rows = new_run(session, card, preset.name, preset.steps, max_iterations=preset.max_iterations)
    first = rows[0]
    kind = JobKind.RESOLVE if conflicts else FIRST_KIND[first.kind]
    ask = steps.Ask(kind, comments=list(comments), conflicts=list(conflicts), followups=list(followups))
    return await begin(session, settings, card=card, repo=repo, run=run, step=first, ask=ask, agent=agent)


async def waiting_run(session: AsyncSession, card: Card) -> Run | None:
    """The card's last run, if it waits for its plan's review."""
    run = await latest_run(session, card)
    return run if run is not None and run.status == RunStatus.WAITING else None


async def continue_after_review(
    *, session: AsyncSession, settings: Settings, card: Card, run: Run
) -> Job | None:
    """The plan was approved: the run goes on with the step after it (the card back in progress).
    None when nothing followed the plan (the run succeeded; the card stays in review)."""
    move_run(run, RunStatus.RUNNING)
    rows = await steps_of(session, run)
    plan_step = next(
        s for s in reversed(rows) if s.kind == StepKind.PLAN and s.status == StepStatus.SUCCEEDED
    )
    job = await next_step(session, settings, card=card, run=run, rows=rows, after=plan_step)
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
    rows = await steps_of(session, run)
    plan_step = next(s for s in reversed(rows) if s.kind == StepKind.PLAN)
    await require_agent(session, settings, None, plan_step)
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    move_run(run, RunStatus.RUNNING)
    ask = steps.Ask(JobKind.REFINE, comments=list(comments), followups=list(followups))
    return await send_back(session, settings, card=card, repo=repo, run=run, step=plan_step, ask=ask)


async def cancel_waiting(*, session: AsyncSession, card: Card, run: Run) -> None:
    """The plan's review rejected it: the waiting run ends, cancelled, its later steps skipped."""
    for later in await steps_of(session, run):
        if later.status == StepStatus.PENDING:
            move_step(later, StepStatus.SKIPPED)
    move_run(run, RunStatus.CANCELLED, "The plan was rejected in review.")
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
        run = await latest_run(session, card)
    followup.job_id, followup.delivered_at = job.id, utcnow()
    session.add(followup)
    await session.flush()
    announce.activity(
        session, card, ActivityKind.PROMPT, {"followup_id": str(followup.id), "job_id": str(job.id)}
    )
    return followup, job, run
