"""Step kinds: what a step of a run does.

Today a card's run has one agent step: ``build`` when the card is started, ``iterate`` when a
reviewer asks for changes. A step runs in attempts (jobs); each attempt has a ``JobKind`` that
picks its prompt: the first attempt of a step runs as the step's own kind, later ones as
``retry`` (the previous attempt failed), ``fix`` (the repo's checks failed) or ``resolve``
(the branch conflicts with the base).
"""

from __future__ import annotations

from enum import StrEnum

from lazyaf_protocol.messages import JobKind


class StepKind(StrEnum):
    BUILD = "build"
    """Implement the card."""
    ITERATE = "iterate"
    """Address a review: the open comments, or the conflicts with the base branch."""


FIRST_ATTEMPT: dict[StepKind, JobKind] = {StepKind.BUILD: JobKind.BUILD, StepKind.ITERATE: JobKind.ITERATE}
"""The kind of a step's first attempt (request changes on a conflicting branch runs ``resolve``)."""
