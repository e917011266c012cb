"""THE SEAM between a GitHub command and the work it starts: the only module of ``github/commands``
that queues, reads or cancels agent work. Each command is one workflow run of the orchestration
core (``lazyaf.orchestration.runs``) on the thread's card; everything else (gate, threads,
context, progress comment, pull requests) sees a run only through the functions below.

=========  =================================  ======================================================
verb       workflow (steps)                   prompt of its first agent step (``prompts/github/``)
=========  =================================  ======================================================
plan       plan (plan)                        plan.md.j2 (the harness keeps only the plan file)
refine     plan (plan, as a ``refine``)       refine.md.j2 (resumes the last session)
build      build (build, verify)              build.md.j2 (reads the plan from the branch)
oneshot    oneshot (plan, build, verify)      plan.md.j2, then build.md.j2
iterate    iterate (iterate, verify)          iterate.md.j2 (resumes the last session)
=========  =================================  ======================================================

A command's checklist shows one agent step per verb name: an agent step and the verify step
after it are one (``Build and verify``). A verify failure sends the agent step back with the
checks' output, as for any workflow. Every job of a command runs with the default branch's agent
configuration (``run.agent_config_from_base``), and its plan step may change only the thread's
plan path.

The API (every function takes the caller's session, flushes, never commits)::

    start_plan(session, settings, thread, prompt) -> Run
    start_refine(session, settings, thread, prompt) -> Run
    start_build(session, settings, thread, prompt) -> Run
    start_oneshot(session, settings, thread, plan_prompt, build_prompt) -> Run
    start_iterate(session, settings, thread, prompt) -> Run
    status(session, settings, run) -> RunState   # reads (the engine hands steps over itself)
    cancel(session, run) -> bool                 # stops the running step; no later step starts

``Thread`` says where to work (card, branch, plan path); a ``Run`` is a JSON-able dict the caller
stores as it is (``github_command.run``): ``{"engine": "workflow", "run_id", "card_id", "names"}``.
Runs stored by the earlier engine (``"engine": "jobs"``, a list of job steps) are still read,
and their due steps started, by the code at the end of this module.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents import service as agent_service
from lazyaf.cards.models import Card, CardStatus
from lazyaf.errors import InvalidTransition
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs.models import FINAL_JOB_STATUSES, Job, JobKind, JobStatus
from lazyaf.orchestration import runs as orchestration_runs
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runs.models import Run as WorkflowRun
from lazyaf.runs.models import RunStatus
from lazyaf.runs.models import Step as RunStep
from lazyaf.runs.models import StepStatus as RunStepStatus
from lazyaf.settings import Settings
from lazyaf.workflows.kinds import AGENT_STEPS, StepKind

Run = dict[str, Any]
StepStatus = Literal["pending", "running", "done", "failed", "cancelled"]
STEP_TITLES = {
    "plan": "Write the plan",
    "refine": "Refine the plan",
    "build": "Build and verify",
    "iterate": "Address the review",
}


@dataclass(frozen=True)
class Thread:
    """Where a command's work happens: the thread's card, on ``branch`` (made from the default
    branch when it does not exist), with its plan at ``plan_path``."""

    card: Card
    repo: Repo
    branch: str
    plan_path: str


@dataclass
class StepState:
    name: str  # plan | refine | build | iterate
    title: str
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost_usd: float | None = None
    phase: str | None = None  # while running: queued, cloning, agent, verifying, pushing...
    error: str | None = None
    no_changes: bool = False
    verification: list[dict[str, Any]] = field(default_factory=list)
    final_text: str | None = None  # the agent's last words (iterate says which threads it addressed)


@dataclass
class RunState:
    status: Literal["running", "completed", "failed", "cancelled"]
    steps: list[StepState]
    head_sha: str | None = None
    error: str | None = None


# --- starting -----------------------------------------------------------------------------------


VERBS: dict[str, tuple[str, list[StepKind], JobKind]] = {
    "plan": ("plan", [StepKind.PLAN], JobKind.PLAN),
    "refine": ("plan", [StepKind.PLAN], JobKind.REFINE),
    "build": ("build", [StepKind.BUILD, StepKind.VERIFY], JobKind.BUILD),
    "oneshot": ("oneshot", [StepKind.PLAN, StepKind.BUILD, StepKind.VERIFY], JobKind.PLAN),
    "iterate": ("iterate", [StepKind.ITERATE, StepKind.VERIFY], JobKind.ITERATE),
}
"""Per verb: the workflow its run is recorded as, its steps, and its first attempt's kind."""


async def start_plan(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, "plan", [prompt])


async def start_refine(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, "refine", [prompt])


async def start_build(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, "build", [prompt])


async def start_oneshot(
    session: AsyncSession, settings: Settings, thread: Thread, plan_prompt: str, build_prompt: str
) -> Run:
    return await _start(session, settings, thread, "oneshot", [plan_prompt, build_prompt])


async def start_iterate(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, "iterate", [prompt])


async def _start(
    session: AsyncSession, settings: Settings, thread: Thread, verb: str, given: list[str]
) -> Run:
    card = thread.card
    if card.status == CardStatus.IN_PROGRESS:
        raise InvalidTransition(f"Card '{card.title}' is busy with another job; wait for it to finish.")
    # No runner could run the agent (no credential): refused before anything is written.
    await agent_service.require(session=session, settings=settings, agent=settings.default_agent)
    workflow, kinds, first = VERBS[verb]
    card.branch_name = thread.branch
    run, rows = orchestration_runs.new_run(
        session,
        card,
        workflow,
        kinds,
        plan_path=thread.plan_path,
        agent_config_from_base=True,
        prompts=[*given, *[None] * (len(kinds) - len(given))],
    )
    await orchestration_runs.start_run(
        session=session, settings=settings, card=card, run=run, rows=rows, ask=first
    )
    names = [verb if verb in ("refine", "iterate") else str(k) for k in kinds if k in AGENT_STEPS]
    return {"engine": "workflow", "run_id": str(run.id), "card_id": str(card.id), "names": names}


# --- reading ------------------------------------------------------------------------------------

RUN_STATE: dict[RunStatus, Literal["running", "completed", "failed", "cancelled"]] = {
    RunStatus.RUNNING: "running",
    RunStatus.WAITING: "running",
    RunStatus.SUCCEEDED: "completed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
}
GROUP_STATUS: dict[RunStepStatus, StepStatus] = {
    RunStepStatus.PENDING: "pending",
    RunStepStatus.RUNNING: "running",
    RunStepStatus.SUCCEEDED: "done",
    RunStepStatus.SKIPPED: "done",
    RunStepStatus.FAILED: "failed",
    RunStepStatus.CANCELLED: "cancelled",
}


async def status(session: AsyncSession, settings: Settings, run: Run) -> RunState:
    """Where the run is (the workflow engine starts its next steps by itself)."""
    if run.get("engine") != "workflow":
        return await _legacy_status(session, settings, run)
    found = await session.get(WorkflowRun, uuid.UUID(run["run_id"]))
    if found is None:
        gone = [StepState(name=n, title=STEP_TITLES.get(n, n), status="failed") for n in run["names"]]
        error = "The card's run is gone (was the card deleted?)."
        return RunState(status="failed", steps=gone, error=error)
    rows = (
        await session.scalars(select(RunStep).where(RunStep.run_id == found.id).order_by(RunStep.position))
    ).all()
    jobs = (
        await session.scalars(
            select(Job).where(Job.step_id.in_([r.id for r in rows])).order_by(Job.queued_at, Job.created_at)
        )
    ).all()
    groups: list[list[RunStep]] = []
    for row in rows:
        if row.kind in AGENT_STEPS or not groups:
            groups.append([row])
        else:
            groups[-1].append(row)
    states = [
        _group_state(name, group, [j for j in jobs if j.step_id in {r.id for r in group}])
        for name, group in zip(run["names"], groups, strict=False)
    ]
    card = await session.get(Card, found.card_id)
    head = None
    if card is not None and card.branch_name:
        repo = await session.get(Repo, card.repo_id)
        if repo is not None:
            (head,) = await in_thread(git_refs.branch_shas, git_path(settings, repo), card.branch_name)
    return RunState(status=RUN_STATE[found.status], steps=states, head_sha=head, error=found.error)


def _group_state(name: str, group: list[RunStep], jobs: list[Job]) -> StepState:
    """One checklist step: an agent step and the harness steps after it."""
    state = StepState(name=name, title=STEP_TITLES.get(name, name), status="pending")
    statuses = [GROUP_STATUS[r.status] for r in group]
    for wanted in ("failed", "cancelled", "running"):
        if wanted in statuses:
            state.status = wanted
            break
    else:
        state.status = "done" if all(s == "done" for s in statuses) else statuses[0]
        if state.status == "pending" and "done" in statuses:
            state.status = "running"  # its agent step is done, its checks wait for a runner
    state.started_at = group[0].started_at
    if state.status in ("done", "failed", "cancelled"):
        state.finished_at = max((r.finished_at for r in group if r.finished_at), default=None)
    costs = [j.cost_usd for j in jobs if j.cost_usd is not None]
    state.cost_usd = sum(costs) if costs else None
    state.error = next((r.error for r in group if r.status == RunStepStatus.FAILED), None)
    agent_jobs = [j for j in jobs if j.kind != JobKind.VERIFY]
    state.no_changes = bool(agent_jobs) and agent_jobs[-1].no_changes
    checks = [j for j in jobs if j.kind == JobKind.VERIFY]
    state.verification = list(checks[-1].verification or []) if checks else []
    running = next((j for j in reversed(jobs) if j.status not in FINAL_JOB_STATUSES), None)
    if running is not None:
        kind = "verifying" if running.kind == JobKind.VERIFY else None
        state.phase = (
            kind or running.phase or ("queued" if running.status == JobStatus.QUEUED else "starting")
        )
    return state


async def final_text(session: AsyncSession, run: Run) -> str | None:
    """The agent's last words in the run's last agent job (its own summary of what it did)."""
    from lazyaf.jobs.models import JobEvent

    if run.get("engine") == "workflow":
        last_id = await session.scalar(
            select(Job.id)
            .join(RunStep, RunStep.id == Job.step_id)
            .where(RunStep.run_id == uuid.UUID(run["run_id"]), Job.kind != JobKind.VERIFY)
            .order_by(Job.queued_at.desc(), Job.created_at.desc())
            .limit(1)
        )
        if last_id is None:
            return None
    else:
        ids = [uuid.UUID(s["job_id"]) for s in run["steps"] if s.get("job_id")]
        if not ids:
            return None
        card = await session.get(Card, uuid.UUID(run["card_id"]))
        last_id = card.job_id if card is not None and card.job_id else ids[-1]
    events = await session.scalars(
        select(JobEvent)
        .where(JobEvent.job_id == last_id, JobEvent.kind.in_(("text", "result")))
        .order_by(JobEvent.id.desc())
        .limit(20)
    )
    for item in events:
        text = (item.data or {}).get("text")
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


# --- stopping -----------------------------------------------------------------------------------


async def cancel(session: AsyncSession, run: Run) -> bool:
    """Stop the running step (its job is cancelled); no later step starts. False: nothing ran."""
    run["cancelled"] = True
    if run.get("engine") != "workflow":
        return await _legacy_cancel(session, run)
    running = await session.scalar(
        select(Job)
        .join(RunStep, RunStep.id == Job.step_id)
        .where(RunStep.run_id == uuid.UUID(run["run_id"]), Job.status.not_in(list(FINAL_JOB_STATUSES)))
        .limit(1)
    )
    if running is None:
        return False
    await orchestration_runs.cancel_job(session=session, job=running)
    return True


# --- names --------------------------------------------------------------------------------------


def slug(number: int, title: str) -> str:
    """``<number>-<first words of the title>``: the branch's and the plan's name."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-").split("-")[:6]
    text = "-".join(w for w in words if w)[:40].rstrip("-")
    return f"{number}-{text}" if text else str(number)


# --- runs of the earlier engine ("engine": "jobs") ------------------------------------------------
# A command started before workflows stored its steps as jobs on the card; it is read from them,
# and a step that became due is started as a one-step workflow run with the prompt it stored.


async def _legacy_status(session: AsyncSession, settings: Settings, run: Run) -> RunState:
    card = await session.get(Card, uuid.UUID(run["card_id"]))
    jobs: list[Job] = []
    if card is not None:
        jobs = list(
            (await session.scalars(select(Job).where(Job.card_id == card.id).order_by(Job.queued_at))).all()
        )
    states: list[StepState] = []
    steps = run["steps"]
    for index, step in enumerate(steps):
        mine = _jobs_of(jobs, steps, index)
        states.append(_state(step["name"], mine, started=step["started_at"] is not None))
    for index, state in enumerate(states):
        due = (
            state.status == "pending"
            and index > 0
            and states[index - 1].status == "done"
            and not run.get("cancelled")
            and card is not None
            and card.status != CardStatus.IN_PROGRESS
        )
        if due:
            assert card is not None
            job = await _legacy_start_step(session, settings, card, run, index)
            states[index] = _state(steps[index]["name"], [job], started=True)
    head = next((j.head_sha for j in reversed(jobs) if j.head_sha and j.status == JobStatus.COMPLETED), None)
    return _overall(states, run, head)


async def _legacy_start_step(
    session: AsyncSession, settings: Settings, card: Card, run: Run, index: int
) -> Job:
    step = run["steps"][index]
    name = step["name"]
    kind = StepKind.PLAN if name in ("plan", "refine") else StepKind(name)
    new, rows = orchestration_runs.new_run(
        session, card, f"github-{name}", [kind], agent_config_from_base=True, prompts=[step["prompt"]]
    )
    job = await orchestration_runs.start_run(
        session=session, settings=settings, card=card, run=new, rows=rows, ask=JobKind(name)
    )
    step["started_at"] = job.queued_at.isoformat()
    step["job_id"] = str(job.id)
    await session.flush()
    return job


def _jobs_of(jobs: list[Job], steps: list[dict[str, Any]], index: int) -> list[Job]:
    """A step's jobs: from its first job up to the next step's first (fix jobs included)."""
    first = steps[index].get("job_id")
    if first is None:
        return []
    ids = [str(j.id) for j in jobs]
    if first not in ids:
        return []
    start = ids.index(first)
    following = steps[index + 1].get("job_id") if index + 1 < len(steps) else None
    end = ids.index(following) if following in ids else len(jobs)
    return jobs[start:end]


def _state(name: str, jobs: list[Job], *, started: bool) -> StepState:
    state = StepState(name=name, title=STEP_TITLES.get(name, name), status="pending")
    if not jobs:
        if started:  # its job was deleted with the card
            state.status, state.error = "failed", "The card's job is gone (was the card deleted?)."
        return state
    last = jobs[-1]
    state.started_at = next((j.started_at for j in jobs if j.started_at), None) or jobs[0].queued_at
    costs = [j.cost_usd for j in jobs if j.cost_usd is not None]
    state.cost_usd = sum(costs) if costs else None
    state.verification = list(last.verification or [])
    if last.status not in FINAL_JOB_STATUSES:
        state.status = "running"
        state.phase = last.phase or ("queued" if last.status == JobStatus.QUEUED else "starting")
        return state
    state.finished_at = last.completed_at
    if last.status == JobStatus.COMPLETED:
        state.status, state.no_changes = "done", last.no_changes
    elif last.status == JobStatus.CANCELLED:
        state.status = "cancelled"
    else:
        state.status, state.error = "failed", last.error or "The agent's job failed."
    return state


def _overall(states: list[StepState], run: Run, head: str | None) -> RunState:
    if any(s.status == "cancelled" for s in states) or (
        run.get("cancelled") and not any(s.status == "running" for s in states)
    ):
        status: Literal["running", "completed", "failed", "cancelled"] = "cancelled"
        for s in states:
            if s.status == "pending":
                s.status = "cancelled"
    elif any(s.status == "failed" for s in states):
        status = "failed"
    elif all(s.status == "done" for s in states):
        status = "completed"
    else:
        status = "running"
    error = next((s.error for s in states if s.status == "failed"), None)
    return RunState(status=status, steps=states, head_sha=head, error=error)


async def _legacy_cancel(session: AsyncSession, run: Run) -> bool:
    card = await session.get(Card, uuid.UUID(run["card_id"]))
    if card is None or card.job_id is None:
        return False
    job = await session.get(Job, card.job_id)
    ours = {s.get("job_id") for s in run["steps"]}
    if job is None or job.status in FINAL_JOB_STATUSES:
        return False
    started = [s["started_at"] for s in run["steps"] if s.get("started_at")]
    followup = bool(started) and job.queued_at.isoformat() >= min(started)
    if str(job.id) not in ours and not followup:
        return False
    await orchestration_runs.cancel_job(session=session, job=job)
    return True
