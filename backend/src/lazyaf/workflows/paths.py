"""Which paths a step may change: the plan step only its plan document, the test step only test
files. The harness (the backend, when an attempt reports its pushed head) checks the attempt's
diff against these rules before the card branch moves; a step that broke them fails, naming the
paths, and its work never reaches the card branch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from lazyaf.workflows.presets import DEFAULT_WORKFLOW

PLANS_DIR = "docs/plans"
DEFAULT_TEST_PATHS: tuple[str, ...] = (
    "tests/**",
    "test/**",
    "**/tests/**",
    "**/test/**",
    "**/__tests__/**",
    "spec/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
    "**/*_test.go",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*Test.java",
    "**/*Tests.cs",
)
"""Where tests live in most repositories (a repo's ``test_paths`` replaces the list)."""
SHOWN_PATHS = 10
"""Paths a refusal names before it says how many more there are."""


def card_slug(card: Any) -> str:
    """``<short card id>-<slug of the title>``: the plan document's name (the branch's, too)."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(card.title).lower()).strip("-")[:40].rstrip("-") or "card"
    return f"{card.id.hex[:8]}-{slug}"


def plan_path(card: Any) -> str:
    return f"{PLANS_DIR}/{card_slug(card)}.md"


def progress_path(plan: str) -> str:
    """A long task's progress file, beside its plan: ``docs/plans/<slug>.progress.md``."""
    return plan.removesuffix(".md") + ".progress.md"


def default_workflow(repo: Any) -> str:
    return str(repo.default_workflow or DEFAULT_WORKFLOW)


def test_paths(repo: Any) -> list[str]:
    return list(repo.test_paths or DEFAULT_TEST_PATHS)


@functools.lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    """A glob as a regex over repo paths: ``**/`` any directories (none too), ``**`` anything,
    ``*`` and ``?`` within one path segment."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, globs: Sequence[str]) -> bool:
    return any(_pattern(glob).match(path) for glob in globs)


def outside(paths: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """The ``paths`` no glob of ``allowed`` matches, sorted."""
    return sorted(p for p in paths if not matches(p, allowed))


def named(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:SHOWN_PATHS])
    return shown if len(paths) <= SHOWN_PATHS else f"{shown} and {len(paths) - SHOWN_PATHS} more"


def plan_refusal(plan: str, touched: Sequence[str]) -> str:
    return (
        f"The plan step may change only {plan}, but the agent also changed: {named(touched)}. "
        "Its work was not kept; retry the card (the plan step runs again)."
    )


def test_refusal(touched: Sequence[str]) -> str:
    return (
        f"The test step may change only test files (the repo's test_paths), but the agent also changed: "
        f"{named(touched)}. Its work was not kept; widen test_paths in the repo settings or retry the card."
    )
