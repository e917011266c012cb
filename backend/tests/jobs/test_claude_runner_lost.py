"""kill -9 of a pool runner while the real Claude Code CLI works a card (on the scripted model):
the job fails within the lease with the reason, the pool starts the runner again, and the next
card reaches review on it."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.jobs.conftest import ingest, job_of, new_card, scale, wait_job, wait_runners_idle
from tests.jobs.test_claude_end_to_end import CLAUDE, fm

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists(),
    reason="the pinned Claude Code CLI is not installed (scripts/install-claude.sh, which `make test` runs)",
)


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel(fm.hang_script()) as model:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", model.url)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        settings.default_agent = "claude"
        settings.claude_binary = str(CLAUDE)
        settings.anthropic_api_key = f"sk-ant-test-{secrets.token_hex(16)}"  # type: ignore[assignment]
        settings.lease_ttl = 4
        # The replacement starts after the test has killed the lost agent (never one of its own).
        settings.runner_restart_delay = 2.0
        with live_server(settings, migrate=False) as srv:
            try:
                yield srv, model
            finally:
                scale(srv, 0)


def _processes_working_in(folder: Path) -> list[int]:
    """Processes whose working directory is under ``folder`` (the agent and what it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_runner_killed_mid_job_fails_it_within_the_lease_and_its_replacement_takes_the_next_card(
    server: tuple[LiveServer, Any], settings: Settings, tmp_path: Path
) -> None:
    srv, model = server
    scale(srv, 1)
    wait_runners_idle(srv, 1)
    repo = ingest(srv, tmp_path)
    first = new_card(srv, repo, "Hang on", description="Write hello.txt with a greeting.")
    job = httpx.post(srv.api(f"/cards/{first['id']}/start")).json()
    wait_until(lambda: job_of(srv, job["id"])["phase"] == "agent" and bool(model.requests), 60)

    (runner_pid,) = srv.app.state.pool._children
    os.killpg(runner_pid, signal.SIGKILL)
    for pid in _processes_working_in(settings.data_dir / "work"):  # a crash takes the agent too
        os.kill(pid, signal.SIGKILL)
    done = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "failed"
    assert done["error"] == "Runner lost: it stopped sending heartbeats while running the agent."
    assert httpx.get(srv.api(f"/cards/{first['id']}")).json()["status"] == "failed"

    model.script = fm.write_file_script("hello.txt", "Hello from the replacement\n")
    wait_runners_idle(srv, 1)
    (runner,) = httpx.get(srv.api("/runners")).json()["runners"]
    assert runner["restarts"] == 1 and runner["last_exit"] == "killed by SIGKILL"
    second = new_card(srv, repo, "Say hello", description="Write hello.txt with a greeting.")
    job = httpx.post(srv.api(f"/cards/{second['id']}/start")).json()
    done = wait_job(srv, job["id"], timeout=90)
    assert done["status"] == "completed", done["error"]
    assert done["runner_id"] == runner["id"]
    assert httpx.get(srv.api(f"/cards/{second['id']}")).json()["status"] == "in_review"
