"""Fixtures for learnings: the orchestration core's repo (a real bare repo with commits) and the
boundary tests' raw client and world."""

from __future__ import annotations

from tests.boundary.conftest import raw, world  # noqa: F401 (fixtures)
from tests.orchestration.conftest import _dispose_engine, repo  # noqa: F401 (fixtures)
