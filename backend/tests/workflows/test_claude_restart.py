"""kill -9 of the backend between two steps of a workflow: the plan step's agent (the real Claude
Code CLI on the scripted model, in a real local runner) finishes while the backend is dead; the
backend comes back, records the plan step's end and the run carries on from the build step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, free_port, wait_until
from tests.jobs.conftest import ingest, new_card, scale
from tests.jobs.test_claude_end_to_end import CLAUDE, fm
from tests.workflows.test_claude_workflows import BUILDING, PLANNING, _write, by_prompt, planner, runs_of

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="the pinned Claude Code CLI is not installed")


def _backend(settings: Settings, port: int, model_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAZYAF_", "ANTHROPIC_"))}
    env.update(
        LAZYAF_DATA_DIR=str(settings.data_dir),
        LAZYAF_PORT=str(port),
        LAZYAF_DEFAULT_AGENT="claude",
        LAZYAF_CLAUDE_BINARY=str(CLAUDE),
        LAZYAF_ANTHROPIC_BASE_URL=model_url,
        LAZYAF_ANTHROPIC_API_KEY="sk-ant-test-restart-0123456789",
        LAZYAF_LEASE_TTL="10",
        LAZYAF_LOG_FORMAT="json",
    )
    code = "from lazyaf.server import run; from lazyaf.settings import load_settings; run(load_settings())"
    log = open(settings.data_dir / f"backend-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _kill(backend: subprocess.Popen[bytes]) -> None:
    os.killpg(backend.pid, signal.SIGKILL)
    backend.wait()


def test_a_backend_killed_between_two_steps_goes_on_with_the_next_step(
    settings: Settings, tmp_path: Path
) -> None:
    release = threading.Event()
    holding = threading.Event()
    plan = planner()

    def plan_then_hold(request: Any) -> Any:
        if request.turn >= 1 and not release.is_set():  # the plan is written; its last words wait
            holding.set()
            assert release.wait(120), "the test never released the model"
        return plan(request)

    with fm.FakeModel() as model:
        model.script = by_prompt(
            {PLANNING: plan_then_hold, BUILDING: fm.Steps(_write("hello.py", "print('hello')\n"), "Built.")}
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        backend = _backend(settings, port, model.url)
        try:
            wait_until(lambda: _up(url), 30)
            server = LiveServer(url=url, app=None, settings=settings)  # type: ignore[arg-type]
            scale(server, 1)
            repo = ingest(server, tmp_path)
            card = new_card(server, repo, "Say hello")
            started = httpx.post(server.api(f"/cards/{card['id']}/start"), json={"workflow": "plan_build"})
            assert started.status_code == 201, started.text
            assert holding.wait(120), "the plan step's agent never reached the model"

            _kill(backend)
            release.set()  # the plan step's agent finishes while the backend is dead
            time.sleep(2)
            backend = _backend(settings, port, model.url)
            wait_until(lambda: _up(url), 30)

            def reviewed() -> bool:
                return httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "in_review"

            wait_until(reviewed, 120)
            (run,) = runs_of(server, card["id"])
            assert run["status"] == "succeeded"
            assert [(s["kind"], s["status"], s["attempts"]) for s in run["steps"]] == [
                ("plan", "succeeded", 1),
                ("build", "succeeded", 1),
                ("verify", "skipped", 0),
            ]
            assert run["steps"][0]["commits"] == 1 and run["steps"][1]["commits"] == 1
            assert any(BUILDING in r.last_user_text for r in model.requests)
        finally:
            if _up(url):
                httpx.post(f"{url}/api/runners/scale", json={"kind": "local", "count": 0}, timeout=30)
            _kill(backend)
