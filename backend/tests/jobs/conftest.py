"""Fixtures for job tests: a live server whose agent is a command the test chooses, and an ingested repo."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.gitutil import git, make_source_repo

PY = sys.executable


def python_agent(code: str) -> str:
    """An agent_command running ``code`` with the workdir as argv[1]."""
    return f'{PY} -c "{code}" {{workdir}}'


WRITE_AGENT = python_agent(
    "import pathlib, sys; p = pathlib.Path(sys.argv[1]) / 'AGENT.md'; "
    "p.write_text('written by the agent\\n'); print('wrote', p.name); print('done')"
)


@pytest.fixture
def make_server(settings: Settings) -> Iterator[Callable[..., LiveServer]]:
    with ExitStack() as stack:

        def make(agent_command: str = WRITE_AGENT, **overrides: Any) -> LiveServer:
            settings.default_agent = "command"
            settings.agent_command = agent_command
            settings.lease_ttl = overrides.pop("lease_ttl", 4)
            for key, value in overrides.items():
                setattr(settings, key, value)
            return stack.enter_context(live_server(settings, migrate=False))

        yield make


def ingest(srv: LiveServer, tmp_path: Path, name: str = "e2e") -> dict[str, Any]:
    repo: dict[str, Any] = httpx.post(srv.api("/repos/ingest"), json={"name": name}).json()
    source = make_source_repo(tmp_path / f"src-{name}", commits=2)
    (source / "README.md").write_text("# Demo\n\nA demo repository for LazyAF tests.\n")
    git("add", ".", cwd=source)
    git("commit", "-q", "-m", "Readme", cwd=source)
    git("push", "-q", repo["clone_url"], "main", cwd=source)
    return repo


def scale(srv: LiveServer, count: int, kind: str = "local") -> dict[str, Any]:
    response = httpx.post(srv.api("/runners/scale"), json={"kind": kind, "count": count}, timeout=60)
    assert response.status_code == 200, response.text
    pool: dict[str, Any] = response.json()
    return pool


def wait_runners_idle(srv: LiveServer, count: int) -> None:
    def ready() -> bool:
        runners = httpx.get(srv.api("/runners")).json()["runners"]
        return sum(r["status"] == "idle" for r in runners) >= count

    wait_until(ready, 30)


def new_card(
    srv: LiveServer, repo: dict[str, Any], title: str = "Add agent notes", **fields: Any
) -> dict[str, Any]:
    card: dict[str, Any] = httpx.post(
        srv.api(f"/repos/{repo['id']}/cards"), json={"title": title, **fields}
    ).json()
    return card


def job_of(srv: LiveServer, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = httpx.get(srv.api(f"/jobs/{job_id}")).json()  # tests/conftest.py: 60 s reads
    return job


def wait_job(
    srv: LiveServer,
    job_id: str,
    statuses: tuple[str, ...] = ("completed", "failed", "cancelled"),
    timeout: float = 60,
) -> dict[str, Any]:
    wait_until(lambda: job_of(srv, job_id)["status"] in statuses, timeout)
    return job_of(srv, job_id)
