"""THE SEAM between a GitHub command and the work it starts: the only module of ``github/commands``
that queues, reads or cancels agent work (through ``lazyaf.orchestration``: each command is one
orchestration run, each of its steps one orchestration step whose attempts are its jobs).
Everything else (gate, threads, context, progress comment, pull requests) sees a run only through
the functions below.

Today (before workflows, issue 12 part 2) a run is a sequence of agent **steps**, each one or more
jobs on the thread's card (a failed check's automatic "fix" job belongs to the step it fixes),
one after the other on the card's branch:

=========  ===========================================  ===============================
verb       steps                                        prompt (``prompts/github/``)
=========  ===========================================  ===============================
plan       plan                                         plan.md.j2 (writes only the plan file)
refine     plan                                         refine.md.j2
build      build                                        build.md.j2 (reads the plan from the branch)
oneshot    plan, build                                  plan.md.j2, then build.md.j2
iterate    iterate                                      iterate.md.j2 (resumes the last session)
=========  ===========================================  ===============================

Every job of a command runs with the default branch's agent configuration
(``job.agent_config_from_base``: the runner swaps ``.claude/``, ``CLAUDE.md``, ``.mcp.json``,
``.lazyaf/`` before the agent starts).

The API (every function takes the caller's session, flushes, never commits)::

    start_plan(session, settings, thread, prompt) -> Run
    start_refine(session, settings, thread, prompt) -> Run
    start_build(session, settings, thread, prompt) -> Run
    start_oneshot(session, settings, thread, plan_prompt, build_prompt) -> Run
    start_iterate(session, settings, thread, prompt) -> Run
    status(session, settings, run) -> RunState   # reads; also starts a run's next step when due
    cancel(session, run) -> bool                 # stops the running step; no later step starts

``Thread`` says where to work (card, branch, plan path); a ``Run`` is a JSON-able dict the caller
stores as it is (``github_command.run``) and hands back; ``RunState`` is what the progress
comment, ``status`` replies and the pull request steps read: the run's status, its steps (status,
times, cost, phase, error) and the branch head.

**For the workflows engineer**: replace the bodies, keep the signatures. ``start_*`` would create
one workflow run on the card (plan → build → verify presets; the plan step's path check;
``review_plan``; resume) and return ``{"engine": "workflow", "run_id": ...}``; ``status`` maps its
steps onto ``StepState``; ``cancel`` cancels it. Runs started by the old engine keep
``"engine": "jobs"`` and finish with the code below. Nothing else in ``github/commands`` changes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents import service as agent_service
from lazyaf.cards.models import Card, CardStatus
from lazyaf.errors import InvalidTransition
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs import sessions as job_sessions
from lazyaf.jobs.models import FINAL_JOB_STATUSES, Job, JobKind, JobStatus
from lazyaf.orchestration import runs as orchestration_runs
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runs.models import Step as RunStep
from lazyaf.settings import Settings
from lazyaf.workflows.kinds import StepKind

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


def _now() -> datetime:
    return datetime.now(UTC)


# --- starting -----------------------------------------------------------------------------------


async def start_plan(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, [("plan", prompt)])


async def start_refine(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, [("refine", prompt)], resume=True)


async def start_build(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, [("build", prompt)])


async def start_oneshot(
    session: AsyncSession, settings: Settings, thread: Thread, plan_prompt: str, build_prompt: str
) -> Run:
    return await _start(session, settings, thread, [("plan", plan_prompt), ("build", build_prompt)])


async def start_iterate(session: AsyncSession, settings: Settings, thread: Thread, prompt: str) -> Run:
    return await _start(session, settings, thread, [("iterate", prompt)], resume=True)


async def _start(
    session: AsyncSession,
    settings: Settings,
    thread: Thread,
    steps: list[tuple[str, str]],
    *,
    resume: bool = False,
) -> Run:
    card = thread.card
    if card.status == CardStatus.IN_PROGRESS:
        raise InvalidTransition(f"Card '{card.title}' is busy with another job; wait for it to finish.")
    # No runner could run the agent (no credential): refused before anything is written.
    await agent_service.require(session=session, settings=settings, agent=settings.default_agent)
    card.branch_name = thread.branch
    run: Run = {
        "engine": "jobs",
        "card_id": str(card.id),
        "resume": resume,
        "steps": [{"name": name, "prompt": prompt, "started_at": None} for name, prompt in steps],
    }
    await _start_step(session, settings, card, thread.repo, run, 0)
    return run


async def _start_step(
    session: AsyncSession, settings: Settings, card: Card, repo: Repo, run: Run, index: int
) -> Job:
    step = run["steps"][index]
    (base,) = await in_thread(git_refs.branch_shas, git_path(settings, repo), repo.default_branch)
    if base is None:
        raise InvalidTransition(
            f"Repo '{repo.name}' has no commits on its default branch '{repo.default_branch}' yet; "
            "push to it first."
        )
    previous = await session.get(Job, card.job_id) if card.job_id else None
    agent = settings.default_agent
    # Claude Code continues its last session on this card when the session file reached us.
    resume = (
        await job_sessions.resumable(settings, previous, agent) if run.get("resume") or index > 0 else None
    )
    job = await orchestration_runs.queue_attempt(
        session=session,
        settings=settings,
        card=card,
        step=await _run_step(session, card, run, index),
        repo=repo,
        base_sha=base,
        kind=JobKind(step["name"]),
        prompt=step["prompt"],
        agent=agent,
        resume_session=resume,
    )
    job.agent_config_from_base = True
    step["started_at"] = job.queued_at.isoformat()
    step["job_id"] = str(job.id)
    await session.flush()
    return job


async def _run_step(session: AsyncSession, card: Card, run: Run, index: int) -> RunStep:
    """The orchestration core's step the command's step ``index`` runs as: the run (one step per
    command step, ``workflow`` github-<verbs>) is made with the first, later ones begin in it. A
    run stored before it had one gets a run of its own for the step."""
    if index == 0 or "run_id" not in run:
        names = [s["name"] for s in run["steps"]][index:]
        kinds = [StepKind.PLAN if name in ("plan", "refine") else StepKind(name) for name in names]
        first = await orchestration_runs.new_run(session, card, "github-" + "-".join(names), kinds)
        run["run_id"], run["run_first_step"] = str(first.run_id), index
        return first
    position = index - int(run.get("run_first_step", 0))
    return await orchestration_runs.begin_step(session, uuid.UUID(run["run_id"]), position)


# --- reading ------------------------------------------------------------------------------------


async def status(session: AsyncSession, settings: Settings, run: Run) -> RunState:
    """Where the run is; when a step finished well and another follows, that one is started."""
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
            repo = await session.get(Repo, card.repo_id)  # type: ignore[union-attr]
            assert card is not None and repo is not None
            job = await _start_step(session, settings, card, repo, run, index)
            states[index] = _state(steps[index]["name"], [job], started=True)
    head = next((j.head_sha for j in reversed(jobs) if j.head_sha and j.status == JobStatus.COMPLETED), None)
    return _overall(states, run, head)


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


async def final_text(session: AsyncSession, run: Run) -> str | None:
    """The agent's last words in the run's last job (its own summary of what it did)."""
    from lazyaf.jobs.models import JobEvent

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
    card = await session.get(Card, uuid.UUID(run["card_id"]))
    if card is None or card.job_id is None:
        return False
    job = await session.get(Job, card.job_id)
    ours = {s.get("job_id") for s in run["steps"]}
    if job is None or job.status in FINAL_JOB_STATUSES:
        return False
    if str(job.id) not in ours and not _is_followup_of(job, run):
        return False
    await orchestration_runs.cancel_job(session=session, job=job)
    return True


def _is_followup_of(job: Job, run: Run) -> bool:
    started = [s["started_at"] for s in run["steps"] if s.get("started_at")]
    return bool(started) and job.queued_at.isoformat() >= min(started)


# --- names --------------------------------------------------------------------------------------


def slug(number: int, title: str) -> str:
    """``<number>-<first words of the title>``: the branch's and the plan's name."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-").split("-")[:6]
    text = "-".join(w for w in words if w)[:40].rstrip("-")
    return f"{number}-{text}" if text else str(number)
