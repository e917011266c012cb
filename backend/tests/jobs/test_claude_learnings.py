"""Learnings with the real Claude Code CLI on the scripted model: an accepted learning about the
card's files reaches the model's prompt; a proposed one and one about other files do not; the
agent's own proposal waits for a person, then reaches the next round's prompt once accepted."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server
from tests.jobs.conftest import ingest, new_card, scale, wait_job
from tests.jobs.test_claude_end_to_end import CLAUDE, fm

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists(),
    reason="the pinned Claude Code CLI is not installed (scripts/install-claude.sh, which `make test` runs)",
)


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel() as model:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", model.url)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        settings.default_agent, settings.claude_binary = "claude", str(CLAUDE)
        settings.anthropic_api_key = f"sk-ant-test-{secrets.token_hex(16)}"  # type: ignore[assignment]
        settings.lease_ttl = 10
        with live_server(settings, migrate=False) as srv:
            scale(srv, 1)
            try:
                yield srv, model
            finally:
                scale(srv, 0)


PROPOSAL = "LEARNING-FROM-AGENT: every module in src/ starts with a docstring."
FINAL = f"Done.\n\n```learnings\n- text: {PROPOSAL}\n  paths: src/**\n  kind: convention\n```"


def _learn(
    server: LiveServer, repo: dict[str, Any], text: str, paths: list[str], status: str
) -> dict[str, Any]:
    response = httpx.post(
        server.api(f"/repos/{repo['id']}/learnings"), json={"text": text, "paths": paths, "status": status}
    )
    assert response.status_code == 201, response.text
    learning: dict[str, Any] = response.json()
    return learning


def _prompt(request: Any) -> str:
    prompt: str = request.prompts[-1]
    return prompt


def test_accepted_learnings_about_the_cards_files_reach_the_model_and_nothing_else_does(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    server, model = server
    repo = ingest(server, tmp_path)
    accepted = _learn(
        server, repo, "LEARNING-ACCEPTED-SRC: keep functions under 30 lines.", ["src/**"], "accepted"
    )
    _learn(server, repo, "LEARNING-PROPOSED-SRC: rewrite everything in Rust.", ["src/**"], "proposed")
    _learn(server, repo, "LEARNING-ACCEPTED-DOCS: docs use sentence case.", ["docs/**"], "accepted")

    # The first round: the card's text names src/app.py, which is all LazyAF knows of its files yet.
    model.script = fm.write_file_script("src/app.py", "def hello():\n    return 'hi'\n", final=FINAL)
    card = new_card(server, repo, "Add the app", description="Create src/app.py with a hello function.")
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(server, job["id"], timeout=90)
    assert done["status"] == "completed", done["error"]
    first = _prompt(model.requests[0])
    assert "LEARNING-ACCEPTED-SRC" in first
    assert "LEARNING-PROPOSED-SRC" not in first and "LEARNING-ACCEPTED-DOCS" not in first
    assert not any(
        r.contains("LEARNING-PROPOSED-SRC") or r.contains("LEARNING-ACCEPTED-DOCS") for r in model.requests
    )

    # The agent's proposal is stored as proposed, from this card and job.
    proposed = httpx.get(server.api(f"/repos/{repo['id']}/learnings"), params={"status": "proposed"}).json()
    (mine,) = [p for p in proposed if p["source"] == "agent"]
    assert (mine["text"], mine["paths"], mine["kind"]) == (PROPOSAL, ["src/**"], "convention")
    assert (mine["card_id"], mine["job_id"]) == (card["id"], job["id"])

    # A person accepts it; the next round (its paths: what the branch changed) carries both.
    assert httpx.patch(server.api(f"/learnings/{mine['id']}"), json={"status": "accepted"}).status_code == 200
    httpx.post(server.api(f"/cards/{card['id']}/comments"), json={"body": "Add a goodbye function too."})
    model.script = fm.write_file_script(
        "src/app.py", "def hello():\n    return 'hi'\n\ndef bye():\n    return 'bye'\n"
    )
    before = len(model.requests)
    response = httpx.post(server.api(f"/cards/{card['id']}/request-changes"))
    assert response.status_code == 201, response.text
    done = wait_job(server, response.json()["job"]["id"], timeout=90)
    assert done["status"] == "completed", done["error"]
    second = _prompt(model.requests[before])
    assert "LEARNING-ACCEPTED-SRC" in second and "LEARNING-FROM-AGENT" in second
    assert "LEARNING-PROPOSED-SRC" not in second and "LEARNING-ACCEPTED-DOCS" not in second

    # Each use is counted, and the card lists what its agents were given.
    assert httpx.get(server.api(f"/learnings/{accepted['id']}")).json()["uses"] == 2
    used = httpx.get(server.api(f"/cards/{card['id']}/learnings")).json()
    assert {(u["text"].split(":")[0], u["card_uses"]) for u in used["used"]} == {
        ("LEARNING-ACCEPTED-SRC", 2),
        ("LEARNING-FROM-AGENT", 1),
    }
    assert [p["id"] for p in used["proposed"]] == [mine["id"]]
