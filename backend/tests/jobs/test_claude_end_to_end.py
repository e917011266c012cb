"""Cards done by the real Claude Code CLI (pinned, from npm) in a real local runner, against a scripted
stand-in for the Messages API on 127.0.0.1 (runner/tests/fakemodel.py)."""

from __future__ import annotations

import importlib.util
import os
import secrets
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, scale, wait_job
from tests.jobs.test_end_to_end import BoardWatcher

RUNNER_DIR = Path(__file__).resolve().parents[3] / "runner"
CLAUDE = RUNNER_DIR / "claude" / "node_modules" / ".bin" / "claude"


def _fakemodel() -> ModuleType:
    if "fakemodel" in sys.modules:  # already imported by the runner's own tests in this session
        return sys.modules["fakemodel"]
    spec = importlib.util.spec_from_file_location("fakemodel", RUNNER_DIR / "tests" / "fakemodel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fakemodel"] = module
    spec.loader.exec_module(module)
    return module


fm = _fakemodel()
pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="the pinned Claude Code CLI is not installed "
                                "(scripts/install-claude.sh, which `make test` runs)")


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fm.FakeModel() as fake:
        # Local runners inherit the server's environment: this is how the agent finds the model.
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        yield fake


@pytest.fixture
def api_key() -> str:
    return f"sk-ant-test-{secrets.token_hex(16)}"


@pytest.fixture
def claude_server(settings: Settings, api_key: str, model: Any) -> Iterator[LiveServer]:
    settings.default_agent = "claude"
    settings.claude_binary = str(CLAUDE)
    settings.anthropic_api_key = api_key  # type: ignore[assignment]
    settings.lease_ttl = 10
    with live_server(settings, migrate=False) as server:
        scale(server, 1)
        yield server
        scale(server, 0)


def _run_card(server: LiveServer, tmp_path: Path, title: str) -> tuple[dict[str, Any], dict[str, Any], Any]:
    repo = ingest(server, tmp_path)
    watcher = BoardWatcher(server.url)
    card = new_card(server, repo, title, description="Write hello.txt with a greeting.")
    response = httpx.patch(server.api(f"/cards/{card['id']}"), json={"status": "in_progress"})
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    job = wait_job(server, response.json()["job_id"], timeout=90)
    wait_until(lambda: any(f["data"]["job"]["status"] == job["status"] for f in watcher.of_type("job_status")))
    watcher.close()
    return repo, job, watcher


def _no_secret_anywhere(settings: Settings, server: LiveServer, job: dict[str, Any], key: str) -> None:
    logs = httpx.get(server.api(f"/jobs/{job['id']}/logs"), params={"limit": 5000}).text
    assert key not in logs and key not in httpx.get(server.api(f"/jobs/{job['id']}")).text
    for path in settings.data_dir.rglob("*"):
        if path.is_file() and "git_repos" not in path.parts:
            assert key.encode() not in path.read_bytes(), f"the API key is stored in clear in {path}"


def test_claude_writes_a_file_and_the_card_reaches_review(
    claude_server: LiveServer, model: Any, settings: Settings, api_key: str, tmp_path: Path
) -> None:
    model.script = fm.write_file_script("hello.txt", "Hello from the scripted model\n")
    repo, job, watcher = _run_card(claude_server, tmp_path, "Say hello")
    assert job["status"] == "completed", job["error"]
    assert job["session_id"] and job["cost_usd"] and job["cost_usd"] > 0
    assert job["input_tokens"] and job["output_tokens"] and job["num_turns"] == 2
    assert (job["commits"], job["files_changed"], job["lines_added"]) == (1, 1, 1)
    card = httpx.get(claude_server.api(f"/cards/{job['card_id']}")).json()
    assert card["status"] == "in_review"
    clone = tmp_path / "check"
    git("clone", "-q", "--branch", card["branch_name"], repo["clone_url"], str(clone))
    assert (clone / "hello.txt").read_text() == "Hello from the scripted model\n"
    # The prompt came from prompts/steps/build.md.j2 with the card and the README excerpt.
    prompt = model.requests[0].prompts[-1]
    assert "Title: Say hello" in prompt and "Write hello.txt with a greeting." in prompt
    assert "A demo repository for LazyAF tests." in prompt
    assert model.requests[0].headers.get("x-api-key") == api_key
    kinds = [f["data"]["event"]["kind"] for f in watcher.of_type("job_event")]
    assert kinds[0] == "system" and kinds[-1] == "result" and "tool_call" in kinds and "tool_result" in kinds
    stored = httpx.get(claude_server.api(f"/jobs/{job['id']}/logs")).json()["events"]
    assert [e["kind"] for e in stored] == kinds
    assert [f["seq"] for f in watcher.frames if "seq" in f] == sorted(f["seq"] for f in watcher.frames if "seq" in f)
    _no_secret_anywhere(settings, claude_server, job, api_key)


def test_claude_committing_itself_is_kept_as_is(claude_server: LiveServer, model: Any, tmp_path: Path) -> None:
    model.script = fm.commit_script(message="Add hello.txt")
    repo, job, _ = _run_card(claude_server, tmp_path, "Say hello")
    assert job["status"] == "completed", job["error"]
    assert job["commits"] == 1
    clone = tmp_path / "check"
    branch = httpx.get(claude_server.api(f"/cards/{job['card_id']}")).json()["branch_name"]
    git("clone", "-q", "--branch", branch, repo["clone_url"], str(clone))
    assert git("log", "-1", "--format=%s", cwd=clone).stdout.strip() == "Add hello.txt"


def test_an_api_error_fails_the_job_with_the_reason(claude_server: LiveServer, model: Any, tmp_path: Path) -> None:
    model.script = fm.error_script(400, "scripted bad request")
    _, job, _ = _run_card(claude_server, tmp_path, "Say hello")
    assert job["status"] == "failed"
    assert "API error" in job["error"] and "scripted bad request" in job["error"]
    assert httpx.get(claude_server.api(f"/cards/{job['card_id']}")).json()["status"] == "failed"


def test_garbage_output_fails_the_job_clearly(
    settings: Settings, model: Any, tmp_path: Path, make_garbage: Callable[[], Path]
) -> None:
    settings.default_agent = "claude"
    settings.claude_binary = str(make_garbage())
    settings.lease_ttl = 10
    with live_server(settings, migrate=False) as server:
        scale(server, 1)
        _, job, _ = _run_card(server, tmp_path, "Say hello")
        scale(server, 0)
    assert job["status"] == "failed"
    assert "without a result" in job["error"] and job["exit_code"] == 0


@pytest.fixture
def make_garbage(tmp_path: Path) -> Callable[[], Path]:
    def make() -> Path:
        script = tmp_path / "fake-claude"
        script.write_text("#!/bin/sh\necho 'this is not json'\necho '{\"half\": '\nexit 0\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return script

    return make




def test_a_card_at_the_description_limit_in_three_byte_characters_reaches_the_model_intact(
    claude_server: LiveServer, model: Any, tmp_path: Path
) -> None:
    # 150 KB of UTF-8: in argv it failed with "Argument list too long"; on stdin it goes through.
    description = "€" * 50_000
    model.script = fm.write_file_script("hello.txt", "Hello\n")
    repo = ingest(claude_server, tmp_path)
    card = new_card(claude_server, repo, "A long card", description=description)
    assert card["description"] == description

    job = httpx.post(claude_server.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(claude_server, job["id"], timeout=90)

    assert done["status"] == "completed", done["error"]
    assert description in model.requests[0].prompts[-1]
