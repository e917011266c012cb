"""Step kinds: what a step of a run does.

A run is a workflow (``workflows/presets``): an ordered list of steps on the card's branch.
Agent steps (``plan``, ``build``, ``test``, ``iterate``, ``loop``) run the agent; ``verify`` is a
harness step (a runner checks the branch out and runs the repo's commands, no agent). A step runs
in attempts (jobs); each attempt has a ``JobKind`` that picks its prompt: the first attempt of a
step runs as the step's own kind (or as ``refine``, ``resolve``), later ones as ``retry`` (the
previous attempt failed), ``fix`` (the checks after it failed), ``followup`` (a person's prompt,
the next turn of the session) or ``refine`` (a plan sent back by its review).
"""

from __future__ import annotations

from enum import StrEnum


class StepKind(StrEnum):
    PLAN = "plan"
    """Write (or rework) the plan document, ``docs/plans/<card-slug>.md``, and nothing else."""
    BUILD = "build"
    """Implement the card (following the plan, when the run made one)."""
    TEST = "test"
    """Add or change tests only (the repo's ``test_paths``)."""
    VERIFY = "verify"
    """Run the repo's checks on the branch (no agent); a failure sends the previous agent step back."""
    ITERATE = "iterate"
    """Address a review: the open comments, the conflicts with the base branch, or a follow-up prompt."""
    LOOP = "loop"
    """A long task: one fresh agent session per iteration until the progress file says done."""


AGENT_STEPS = frozenset({StepKind.PLAN, StepKind.BUILD, StepKind.TEST, StepKind.ITERATE, StepKind.LOOP})
"""Steps that run the agent (the others are the harness's)."""
