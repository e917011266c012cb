"""Workflows as a service: what other parts of LazyAF (the API, work orders, GitHub, the CLI's
server side) call to list presets, start a card's run and send follow-up prompts.

``start`` is the entry point for code that makes work without a person's drag: it checks the
card may start, then starts a run of the workflow (``orchestration.cards.start_card``) and
returns the run (its steps: ``lazyaf.runs.service.one``). Every function flushes, never commits.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.errors import NotFound
from lazyaf.git.run import in_thread
from lazyaf.orchestration import cards as card_moves
from lazyaf.orchestration import runs as orchestration_runs
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.runs.models import Run, Step
from lazyaf.settings import Settings
from lazyaf.workflows import paths, presets
from lazyaf.workflows.schemas import PromptRead, WorkflowList, WorkflowRead


def _read(workflow: presets.Workflow) -> WorkflowRead:
    return WorkflowRead(
        name=workflow.name,
        steps=list(workflow.steps),
        description=workflow.description,
        source=workflow.source,
        alias_of=workflow.alias_of,
        max_iterations=workflow.max_iterations,
    )


async def find_repo(session: AsyncSession, ref: str) -> Repo:
    """A repo by name (or an old name of it) or id; a 404 that says how to list them."""
    repo: Repo | None = None
    try:
        repo = await session.get(Repo, uuid.UUID(ref))
    except ValueError:
        pass
    if repo is None:
        repo_id = await repo_service.find_by_name(session, ref)
        repo = await session.get(Repo, repo_id) if repo_id is not None else None
    if repo is None:
        raise NotFound(f"No repo named '{ref}'; list repos with GET /api/repos.")
    return repo


async def catalog(settings: Settings, repo: Repo | None) -> presets.Catalog:
    """The presets ``repo`` can run (the built-in ones without a repo)."""
    if repo is None:
        return presets.builtin()
    return await in_thread(presets.catalog_at, repo_service.git_path(settings, repo), repo.default_branch)


async def list_workflows(*, session: AsyncSession, settings: Settings, repo_ref: str | None) -> WorkflowList:
    repo = await find_repo(session, repo_ref) if repo_ref else None
    found = await catalog(settings, repo)
    return WorkflowList(
        workflows=[_read(found.workflows[name]) for name in found.names()],
        default_workflow=paths.default_workflow(repo) if repo else presets.DEFAULT_WORKFLOW,
        problems=dict(found.problems),
    )


async def start(
    session: AsyncSession,
    settings: Settings,
    card: Card,
    *,
    workflow: str | None,
    review_plan: bool = False,
    fresh: bool = False,
    agent: str | None = None,
) -> Run:
    """Start a run of ``workflow`` (None: the repo's default) on a todo card and return it (its
    first step's attempt is queued, the card is in progress). Refusals, nothing written: a card
    not in todo or archived, or no runner could run the agent (409); an unknown workflow (422,
    the sentence lists the known ones); a repo without commits (409)."""
    job = await card_moves.start_card(
        session=session,
        settings=settings,
        card=card,
        workflow=workflow,
        review_plan=review_plan,
        fresh=fresh,
        agent=agent,
    )
    step = await session.get(Step, job.step_id)
    assert step is not None
    run = await session.get(Run, step.run_id)
    assert run is not None
    return run


async def prompt(*, session: AsyncSession, settings: Settings, card: Card, text: str) -> PromptRead:
    """A follow-up prompt (``orchestration.runs.add_followup``) and what became of it."""
    followup, job, run = await orchestration_runs.add_followup(
        session=session, settings=settings, card=card, text=text
    )
    return PromptRead(
        id=followup.id,
        status="delivered" if job is not None else "queued",
        job_id=job.id if job is not None else None,
        run_id=run.id if run is not None else None,
    )
