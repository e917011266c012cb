"""The job tests' live-server fixture (a command agent the test chooses), for work orders run to their end."""

from tests.jobs.conftest import make_server

__all__ = ["make_server"]
