"""Why attempts failed, grouped: a failed attempt's sentence (``job.error``) reduced to a reason.

The sentences come from a few places (the runner's adapters and workspace, the backend's reaper,
the checks); each says the same thing in many ways (a file name, a count, an exit code, the
checks' output). ``classify`` maps a sentence to a stable key and a short label by the table below,
first match wins. A sentence the table does not know is grouped by its first sentence with
numbers, quoted text, paths and hashes blanked, so "exited with code 1" and "exited with code 2"
still count together. When a new failure sentence appears in the code, add its row here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    key: str
    label: str


_TABLE: list[tuple[str, str, re.Pattern[str]]] = [
    (key, label, re.compile(pattern, re.IGNORECASE | re.DOTALL))
    for key, label, pattern in [
        ("runner_lost", "Runner lost while the agent ran", r"^Runner lost"),
        ("timeout", "Timed out", r"^Timed out|\btimed out\b.*\bstopped\b"),
        ("turn_limit", "Agent hit its turn limit", r"stopped at its turn limit"),
        ("no_changes", "Agent changed nothing", r"finished without changing anything"),
        (
            "conflicts_left",
            "Agent left merge conflicts",
            r"left (merge conflicts unresolved|conflict markers)",
        ),
        (
            "credential",
            "No usable model credential",
            r"has no credential|refused .*credential|did not accept .* as a login|"
            r"^The model API refused|\bexpired( at [^:]*)?: run `claude`",
        ),
        ("api_error", "Model API error", r"reported an API error"),
        ("agent_crashed", "Agent ended without a result", r"without a result"),
        ("execution_error", "Agent failed during execution", r"failed during execution"),
        (
            "agent_exit",
            "Agent exited with an error",
            r"(ended with|reported success but exited|exited with code)",
        ),
        ("could_not_start", "Agent could not start", r"^Could not start"),
        ("push_refused", "Push refused", r"^Push refused|^Preparing the push failed"),
        ("git_failed", "Git failed in the workspace", r"^(Merging|Committing|Reading the base branch)\b"),
        ("runner_crashed", "Runner crashed", r"^The runner failed unexpectedly"),
        ("cancelled", "Cancelled", r"^Cancelled\b"),
        # Sentences of the limits and stall checks (issue 15), by their first line only.
        ("budget", "Over its budget", r"^[^\n]*\b(per_card_usd|budget)\b"),
        ("stalled", "Stalled (no agent output)", r"^[^\n]*\b(stalled|went silent|no event)\b"),
    ]
]
_VERIFICATION = re.compile(r"^Verification failed: (?P<name>[\w .-]{1,40}?) \(`")
_BLANKS = [
    (re.compile(r"`[^`]*`"), "`…`"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
    (re.compile(r"\b[0-9a-f]{7,64}\b|\b[0-9a-f-]{36}\b", re.IGNORECASE), "…"),
    (re.compile(r"(?:[\w.-]*/)+[\w.-]+"), "…"),
    (re.compile(r"\d+(?:\.\d+)?"), "N"),
    (re.compile(r"\s+"), " "),
]
OTHER_LENGTH = 80
UNKNOWN = Reason("unknown", "No reason recorded")


def classify(error: str | None) -> Reason:
    """The reason an attempt failed with ``error`` counts under."""
    text = (error or "").strip()
    if not text:
        return UNKNOWN
    found = _VERIFICATION.match(text)
    if found:
        name = found.group("name").strip()
        return Reason(f"verification:{name.lower()}", f"Check failed: {name}")
    for key, label, pattern in _TABLE:
        if pattern.search(text):
            return Reason(key, label)
    first = re.split(r"(?<=[.!?])\s|\n", text, maxsplit=1)[0]
    for pattern, blank in _BLANKS:
        first = pattern.sub(blank, first)
    first = first.strip()
    if len(first) > OTHER_LENGTH:
        first = first[: OTHER_LENGTH - 1].rstrip() + "…"
    return Reason(f"other:{first.lower()}", first)
