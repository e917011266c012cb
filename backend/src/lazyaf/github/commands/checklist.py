"""A command's checklist: the steps its progress comment shows, agent steps first, then GitHub's.

Agent steps (``agent: True``) mirror the run's steps (runs.py) by name; the others are writes to
GitHub done through the outbox after the agent's work (ops.py), each marking its own step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lazyaf.github.commands.models import GitHubCommand

STEPS: dict[str, list[tuple[str, str, bool]]] = {
    "plan": [("plan", "Write the plan", True), ("pull_request", "Open a draft pull request", False)],
    "refine": [("refine", "Refine the plan", True), ("pull_request", "Push to the pull request", False)],
    "build": [
        ("build", "Build and verify", True),
        ("pull_request", "Push to the pull request", False),
        ("ready", "Mark the pull request ready for review", False),
    ],
    "oneshot": [
        ("plan", "Write the plan", True),
        ("build", "Build and verify", True),
        ("pull_request", "Open the pull request", False),
    ],
    "iterate": [
        ("iterate", "Address the review", True),
        ("pull_request", "Push to the pull request", False),
        ("answer", "Answer the review threads it addressed", False),
    ],
}


def make(verb: str) -> list[dict[str, Any]]:
    return [
        {"key": key, "title": title, "agent": agent, "status": "pending"}
        for key, title, agent in STEPS.get(verb, [])
    ]


def step(command: GitHubCommand, key: str) -> dict[str, Any] | None:
    return next((s for s in command.steps or [] if s["key"] == key), None)


def set_step(command: GitHubCommand, key: str, status: str, **fields: Any) -> bool:
    """Change one step (a new list, so the JSON column sees the change); whether anything changed."""
    steps = [dict(s) for s in command.steps or []]
    changed = False
    now = datetime.now(UTC).isoformat()
    for s in steps:
        if s["key"] != key:
            continue
        before = dict(s)
        if status == "running" and not s.get("started_at"):
            s["started_at"] = fields.pop("started_at", None) or now
        if status in ("done", "failed", "cancelled", "skipped") and not s.get("finished_at"):
            s["finished_at"] = fields.pop("finished_at", None) or now
        s["status"] = status
        s.update({k: v for k, v in fields.items()})
        changed = s != before
    if changed:
        command.steps = steps
    return changed


def github_steps(command: GitHubCommand) -> list[dict[str, Any]]:
    return [s for s in command.steps or [] if not s.get("agent")]
