"""Stall detection on a live server with real runners: an agent that goes silent is marked stalled
(nothing killed), then killed with its whole process tree and failed with the reason; one that
speaks again is cleared and finishes."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.jobs.conftest import ingest, job_of, new_card, python_agent, scale, wait_job
from tests.jobs.test_claude_end_to_end import CLAUDE, fm
from tests.jobs.test_claude_runner_lost import _processes_working_in
from tests.jobs.test_end_to_end import BoardWatcher
from tests.jobs.test_faults import processes_with, sleeping_agent


def _stall_entries(server: LiveServer, card_id: str) -> list[dict[str, object]]:
    entries = httpx.get(server.api(f"/cards/{card_id}/timeline")).json()["entries"]
    return [e["data"] for e in entries if e["kind"] == "stall"]


def test_a_silent_agent_is_marked_stalled_then_killed_with_its_tree_and_failed_with_the_reason(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    marker = f"lazyaf-test-{uuid.uuid4().hex}"
    # Marked stalled after 1 s of silence (the server's setting); the kill comes from the repo's own
    # setting, lowered once the mark is seen (so the test never races the reaper's sweeps).
    server = make_server(sleeping_agent(marker), stall_after_s=1, kill_after_s=3600)
    repo = ingest(server, tmp_path)
    watcher = BoardWatcher(server.url)
    scale(server, 1)
    card = new_card(server, repo)
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    wait_until(lambda: len(processes_with(marker)) >= 2, 30)

    wait_until(lambda: job_of(server, job["id"])["stalled_at"] is not None, 30)
    stalled = job_of(server, job["id"])
    assert stalled["status"] == "running" and not stalled["cancel_requested"]
    assert len(processes_with(marker)) >= 2  # stalled is a mark: nothing was killed
    wait_until(lambda: any(f["data"]["job"]["stalled_at"] for f in watcher.of_type("job_status")), 10)
    assert [e["event"] for e in _stall_entries(server, card["id"])] == ["stalled"]

    response = httpx.patch(server.api(f"/repos/{repo['id']}"), json={"kill_after_s": 2})
    assert response.status_code == 200, response.text
    done = wait_job(server, job["id"], timeout=60)
    assert done["status"] == "failed"
    assert done["error"].startswith("Stalled: the agent emitted nothing for ")
    assert done["error"].endswith(" s (kill_after_s is 2); it was stopped with everything it started.")
    assert done["stop_reason"] == done["error"]
    wait_until(lambda: processes_with(marker) == [], 15)
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "failed"
    watcher.close()
    scale(server, 0)


def test_an_agent_that_speaks_again_is_cleared_and_finishes(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    go = tmp_path / "go"
    agent = python_agent(
        "import pathlib, sys, time; go = pathlib.Path(sys.argv[2]); print('thinking', flush=True); "
        "[time.sleep(0.05) for _ in iter(lambda: go.exists(), True)]; print('back', flush=True); "
        "(pathlib.Path(sys.argv[1]) / 'AGENT.md').write_text('written after a pause')"
    )
    server = make_server(f"{agent} {go}", stall_after_s=1, kill_after_s=3600)
    repo = ingest(server, tmp_path)
    scale(server, 1)
    card = new_card(server, repo)
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    wait_until(lambda: job_of(server, job["id"])["stalled_at"] is not None, 30)
    go.touch()
    done = wait_job(server, job["id"], timeout=60)
    assert done["status"] == "completed", done["error"]
    assert done["stalled_at"] is None and done["stop_reason"] is None
    assert [e["event"] for e in _stall_entries(server, card["id"])] == ["stalled", "resumed"]
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
    scale(server, 0)


@pytest.mark.skipif(
    not CLAUDE.exists(), reason="the pinned Claude Code CLI is not installed (scripts/install-claude.sh)"
)
def test_claude_code_waiting_on_a_model_that_never_answers_is_killed_and_failed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real CLI (node and whatever it started) against a model that hangs: stalled, then killed
    with nothing left working in the runner's folder."""
    with fm.FakeModel(fm.hang_script()) as model:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", model.url)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        settings.default_agent, settings.claude_binary = "claude", str(CLAUDE)
        settings.anthropic_api_key = f"sk-ant-test-{secrets.token_hex(16)}"  # type: ignore[assignment]
        settings.lease_ttl, settings.stall_after_s, settings.kill_after_s = 4, 1, 3600
        with live_server(settings, migrate=False) as server:
            repo = ingest(server, tmp_path)
            scale(server, 1)
            card = new_card(server, repo, "Hang on", description="Write hello.txt with a greeting.")
            job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
            wait_until(
                lambda: bool(model.requests) and job_of(server, job["id"])["stalled_at"] is not None, 60
            )
            work = settings.data_dir / "work"
            assert _processes_working_in(work), "the agent is still running while stalled"
            httpx.patch(server.api(f"/repos/{repo['id']}"), json={"kill_after_s": 2}).raise_for_status()
            done = wait_job(server, job["id"], timeout=60)
            assert done["status"] == "failed" and done["error"].startswith(
                "Stalled: the agent emitted nothing"
            )
            wait_until(lambda: _processes_working_in(work) == [], 15)
            scale(server, 0)
