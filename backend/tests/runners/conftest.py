"""Fixtures shared with the job tests: a live server whose agent is a command the test chooses."""

from tests.jobs.conftest import make_server

__all__ = ["make_server"]
