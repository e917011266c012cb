"""Request changes with the real Claude Code CLI: the follow-up resumes the card's session, so the
next model request carries the earlier conversation and the comment, and commits land on the
same branch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server
from tests.jobs.conftest import ingest, new_card, scale, wait_job
from tests.jobs.test_claude_end_to_end import CLAUDE, fm

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="the pinned Claude Code CLI is not installed")


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel() as model:
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        settings.default_agent = "claude"
        settings.claude_binary = str(CLAUDE)
        settings.anthropic_api_key = "sk-ant-test-resume-0123456789"  # type: ignore[assignment]
        settings.anthropic_base_url = model.url
        settings.lease_ttl = 10
        with live_server(settings, migrate=False) as srv:
            scale(srv, 1)
            yield srv, model
            scale(srv, 0)


def test_request_changes_resumes_the_session_with_the_comment(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    first = fm.write_file_script("hello.txt", "Hello\nWorld\n", final="Wrote hello.txt.")
    second = fm.write_file_script("hello.txt", "Hello\nThere\n", final="Changed the second line.")
    model.script = lambda request: (second if request.contains("A reviewer asked for changes") else first)(
        request
    )
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, "Greet")
    job = wait_job(srv, httpx.post(srv.api(f"/cards/{card['id']}/start")).json()["id"], timeout=90)
    assert job["status"] == "completed", job["error"]
    session_id = job["session_id"]
    comment = httpx.post(
        srv.api(f"/cards/{card['id']}/comments"),
        json={"body": "Greet someone specific", "file": "hello.txt", "line": 2},
    )
    assert comment.status_code == 201, comment.text
    requests_before = len(model.requests)
    follow = httpx.post(srv.api(f"/cards/{card['id']}/request-changes")).json()["job"]
    done = wait_job(srv, follow["id"], timeout=90)
    assert done["status"] == "completed", done["error"]
    assert done["session_id"] == session_id  # the same conversation, resumed
    request = model.requests[requests_before]
    assert (
        request.contains("Greet someone specific")
        and request.contains("hello.txt")
        and request.contains("line 2")
    )
    assert request.contains("Wrote hello.txt.")  # the earlier conversation came along
    commits = httpx.get(srv.api(f"/cards/{card['id']}/commits")).json()
    assert len(commits) == 2
    assert httpx.get(srv.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
