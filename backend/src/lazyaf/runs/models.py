"""Runs and steps: a card's agent work as a workflow (an ordered list of steps), run on its branch.

A card runs *runs*; a run has *steps*; a step has *attempts* (jobs, one agent pass each; a step
is retried as a new attempt). Which status follows which is in ``orchestration/states.py``.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    """One of its steps is running (or its attempt waits for a runner)."""
    WAITING = "waiting"
    """A step ended and the run waits for a person (a review) before its next step."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    """The run has not reached it."""
    RUNNING = "running"
    """Its current attempt is queued or running."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    """The run ended before reaching it."""
