"""What each attempt of a step is asked: the template (``prompts/steps/<kind>.md.j2`` for a step's
first attempt, ``prompts/steps/followup.md.j2`` for the others), its variables, and whether it
continues the agent's earlier session.

Every step template gets the same variables (``StrictUndefined``: a typo is an error), listed at
the top of ``prompts/steps/plan.md.j2``. The orchestration core (``orchestration/runs.py``) reads
the repo and calls ``render``; this module decides nothing about statuses.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from lazyaf_protocol.messages import JobKind

from lazyaf.settings import Settings
from lazyaf.workflows import paths, plan, prompts
from lazyaf.workflows.kinds import StepKind

OWN_TEMPLATE = {
    (StepKind.PLAN, JobKind.PLAN),
    (StepKind.BUILD, JobKind.BUILD),
    (StepKind.TEST, JobKind.TEST),
    (StepKind.ITERATE, JobKind.ITERATE),
    (StepKind.LOOP, JobKind.LOOP),
}
"""(step, attempt kind) pairs with a template of their own: a step's first attempt."""
FIRST_KIND_OF = {step: kind for step, kind in OWN_TEMPLATE}
"""The kind of an agent step's first attempt."""
RESUMING = frozenset(
    {JobKind.ITERATE, JobKind.RETRY, JobKind.FIX, JobKind.RESOLVE, JobKind.REFINE, JobKind.FOLLOWUP}
)
"""Attempts that continue the agent's last session when it can (the others start fresh: a build
after a plan reads the plan, a loop iteration its progress file)."""


@dataclass(frozen=True)
class Ask:
    """Why an attempt runs (its ``JobKind``) and what it carries: review comments, the failure
    or the checks' output it answers, conflicting files, a person's follow-up prompts."""

    kind: JobKind
    comments: Sequence[Any] = ()
    failure: str = ""
    conflicts: Sequence[str] = ()
    followups: Sequence[str] = ()
    checks: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def template(step: StepKind, kind: JobKind) -> str:
    return f"steps/{step}.md.j2" if (step, kind) in OWN_TEMPLATE else "steps/followup.md.j2"


def resumes(step: StepKind, kind: JobKind) -> bool:
    """Whether an attempt of ``kind`` of a ``step`` continues the agent's last session."""
    return kind in RESUMING and step != StepKind.LOOP


def quotes_diff(step: StepKind, kind: JobKind) -> bool:
    """Whether a fresh (not resumed) session needs the branch's diff: passes that continue work."""
    return (step, kind) not in OWN_TEMPLATE or step == StepKind.ITERATE


def context(
    *,
    card: Any,
    repo: Any,
    run: Any,
    step: Any,
    total: int,
    ask: Ask,
    attempt: int,
    resumed: bool,
    readme: str | None,
    github: dict[str, Any] | None,
    plan_text: str | None,
    progress_text: str | None,
    test_paths: Sequence[str],
    diff: str,
) -> dict[str, Any]:
    """The variables of every step template (the same names whatever the step)."""
    plan_file = run.plan_path or paths.plan_path(card)
    return {
        "card": card,
        "repo": repo,
        "readme": prompts.readme_excerpt(readme),
        "github": github,
        "run": {
            "workflow": run.workflow,
            "review_plan": run.review_plan,
            "max_iterations": run.max_iterations,
        },
        "step": {
            "kind": str(step.kind),
            "position": step.position,
            "total": total,
            "iteration": step.iteration,
        },
        "job": {"kind": str(ask.kind), "attempt": attempt},
        "plan": {
            "path": plan_file,
            "text": plan_text or "",
            "files": plan.planned_files(plan_text or ""),
        },
        "progress": {"path": paths.progress_path(plan_file), "text": progress_text or ""},
        "resumed": resumed,
        "comments": list(ask.comments),
        "failure": ask.failure,
        "conflicts": list(ask.conflicts),
        "followups": list(ask.followups),
        "checks": ask.checks,
        "diff": diff,
        "test_paths": list(test_paths),
        **ask.extra,
    }


async def render(settings: Settings, **values: Any) -> str:
    """The prompt of an attempt of a step (``context``'s arguments), rendered in a worker thread
    (the loader checks the template file on each use) through ``prompts.render``."""
    step, ask = values["step"], values["ask"]
    name = template(step.kind, ask.kind)
    variables = context(**values)
    return await anyio.to_thread.run_sync(functools.partial(prompts.render, settings, name, **variables))
