"""Step kinds: what a step of a run does.

A card's run from the board has one agent step: ``build`` when the card is started, ``iterate``
when a reviewer asks for changes. A GitHub command's run (``github/commands/runs.py``) has a
``plan`` step (plan, refine), a ``build`` step, or both (oneshot). A step runs in attempts (jobs);
each attempt has a ``JobKind`` that picks its prompt: the first attempt of a step runs as the
step's own kind (or as ``refine``, ``resolve``), later ones as ``retry`` (the previous attempt
failed), ``fix`` (the repo's checks failed) or ``resolve`` (the branch conflicts with the base).
"""

from __future__ import annotations

from enum import StrEnum


class StepKind(StrEnum):
    PLAN = "plan"
    """Write (or rework) the plan document."""
    BUILD = "build"
    """Implement the card."""
    ITERATE = "iterate"
    """Address a review: the open comments, or the conflicts with the base branch."""
