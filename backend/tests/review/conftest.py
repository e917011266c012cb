"""Review tests reuse the job fixtures (a live server with a chosen agent)."""

from tests.jobs.conftest import make_server

__all__ = ["make_server"]
