"""The review loop with the real Claude Code CLI on the scripted model: a resolve job whose agent does
nothing, or resolves half, fails and the card stays conflicting, and main never receives a conflict
marker; a review round whose agent changes nothing is recorded as no changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, scale, wait_job
from tests.jobs.test_claude_end_to_end import CLAUDE, fm

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="the pinned Claude Code CLI is not installed")

RESOLVE = "Resolve every conflict"
RESOLVED_PLAN = "# Plan\n\nWritten on main, kept by the agent.\n"
REVIEW = "A reviewer asked for changes"


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel() as model:
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        settings.default_agent = "claude"
        settings.claude_binary = str(CLAUDE)
        settings.anthropic_api_key = "sk-ant-test-review-loop-0123456789"  # type: ignore[assignment]
        settings.anthropic_base_url = model.url
        settings.lease_ttl = 10
        with live_server(settings, migrate=False) as srv:
            scale(srv, 1)
            yield srv, model
            scale(srv, 0)


def _write(path: str, content: str) -> Any:
    return fm.reply(f"I'll write {path}.", fm.ToolUse("Write", {"file_path": path, "content": content}))


def _read(path: str) -> Any:
    """Claude Code writes over an existing file only after reading it."""
    return fm.reply(f"Let me read {path}.", fm.ToolUse("Read", {"file_path": path}))


def _script(model: Any, rounds: dict[str, Any]) -> None:
    """Answer by the prompt of the conversation's latest turn: the first build, a resolve, a review."""

    def script(request: Any) -> Any:
        prompt = request.prompts[-1]
        key = "resolve" if RESOLVE in prompt else "review" if REVIEW in prompt else "build"
        return rounds[key](request)

    model.script = script


def _main_has_no_marker(repo: dict[str, Any], dest: Path) -> None:
    git("clone", "-q", repo["clone_url"], str(dest))
    found = git("grep", "-n", "-E", "^(<<<<<<<|>>>>>>>)", cwd=dest, check=False)
    assert found.returncode == 1 and found.stdout == "", f"main holds conflict markers:\n{found.stdout}"


def _card(srv: LiveServer, card_id: str) -> dict[str, Any]:
    card: dict[str, Any] = httpx.get(srv.api(f"/cards/{card_id}")).json()
    return card


def test_resolve_jobs_that_leave_conflicts_fail_and_main_never_gets_a_marker(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    rounds: dict[str, Any] = {
        "build": fm.Steps(
            _write("plan.md", "# Plan\n\nBy the agent.\n"),
            _write("notes.txt", "agent notes\n"),
            "Wrote both.",
        ),
    }
    _script(model, rounds)
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, "Rewrite the readme", max_attempts=6)
    built = wait_job(srv, httpx.post(srv.api(f"/cards/{card['id']}/start")).json()["id"], timeout=90)
    assert built["status"] == "completed", built["error"]
    # main changes both files: the card branch now conflicts with it.
    main = tmp_path / "main-edit"
    git("clone", "-q", repo["clone_url"], str(main))
    (main / "plan.md").write_text("# Plan\n\nWritten on main.\n")
    (main / "notes.txt").write_text("main notes\n")
    git("add", ".", cwd=main)
    git("commit", "-q", "-m", "Edit on main", cwd=main)
    git("push", "-q", "origin", "main", cwd=main)
    refused = httpx.post(srv.api(f"/cards/{card['id']}/approve"))
    assert (
        refused.status_code == 409
        and "conflicts with main in: notes.txt, plan.md." in refused.json()["detail"]
    )

    # 1. The agent does nothing: the job fails naming both files; the card stays conflicting.
    rounds["resolve"] = fm.text_script("I looked at the conflicts and left them.")
    queued = httpx.post(srv.api(f"/cards/{card['id']}/request-changes")).json()
    assert queued["job"]["kind"] == "resolve" and queued["card"]["conflict_files"] == ["notes.txt", "plan.md"]
    nothing = wait_job(srv, queued["job"]["id"], timeout=90)
    assert nothing["status"] == "failed"
    assert nothing["error"].startswith("The agent left merge conflicts unresolved in: notes.txt, plan.md.")
    after = _card(srv, card["id"])
    assert after["status"] == "failed" and after["conflict_files"] == ["notes.txt", "plan.md"]
    _main_has_no_marker(repo, tmp_path / "check-1")

    # 2. The agent resolves half (plan.md): the job fails naming the other file.
    rounds["resolve"] = fm.Steps(_read("plan.md"), _write("plan.md", RESOLVED_PLAN), "Resolved.")
    retried = httpx.post(srv.api(f"/cards/{card['id']}/retry")).json()
    assert retried["job"]["kind"] == "resolve"  # a conflicting card's retry merges main in again
    half = wait_job(srv, retried["job"]["id"], timeout=90)
    assert half["status"] == "failed"
    assert half["error"].startswith("The agent left merge conflicts unresolved in: notes.txt.")
    assert _card(srv, card["id"])["conflict_files"] == ["notes.txt", "plan.md"]
    _main_has_no_marker(repo, tmp_path / "check-2")

    # 3. The agent edits both but leaves a marker behind in notes.txt: refused by its markers.
    rounds["resolve"] = fm.Steps(
        _read("plan.md"),
        _write("plan.md", RESOLVED_PLAN),
        _read("notes.txt"),
        _write("notes.txt", "main notes\n>>>>>>> origin/main\n"),
        "Resolved.",
    )
    retried = httpx.post(srv.api(f"/cards/{card['id']}/retry")).json()
    marked = wait_job(srv, retried["job"]["id"], timeout=90)
    assert marked["status"] == "failed"
    assert marked["error"].startswith(
        "The agent left conflict markers (<<<<<<< / >>>>>>> lines) in: notes.txt."
    )
    branch = _card(srv, card["id"])["branch_name"]
    branch_tip = git("ls-remote", repo["clone_url"], f"refs/heads/{branch}").stdout.split()[0]
    assert branch_tip == built["head_sha"]  # nothing of the three failed rounds reached the branch
    _main_has_no_marker(repo, tmp_path / "check-3")
    timeline = httpx.get(srv.api(f"/cards/{card['id']}/timeline")).json()["entries"]
    left = [e["data"] for e in timeline if e["kind"] == "conflict" and "job_id" in e["data"]]
    assert [d["files"] for d in left] == [["notes.txt", "plan.md"], ["notes.txt"], ["notes.txt"]]

    # 4. Resolved for real: the job completes, the card is no longer conflicting, and it merges.
    rounds["resolve"] = fm.Steps(
        _read("plan.md"),
        _write("plan.md", RESOLVED_PLAN),
        _read("notes.txt"),
        _write("notes.txt", "main notes\nagent notes\n"),
        "Resolved.",
    )
    retried = httpx.post(srv.api(f"/cards/{card['id']}/retry")).json()
    resolved = wait_job(srv, retried["job"]["id"], timeout=90)
    assert resolved["status"] == "completed", resolved["error"]
    assert _card(srv, card["id"])["conflict_files"] is None
    merged = httpx.post(srv.api(f"/cards/{card['id']}/approve"))
    assert merged.status_code == 200, merged.text
    _main_has_no_marker(repo, tmp_path / "check-4")
    assert (tmp_path / "check-4" / "notes.txt").read_text() == "main notes\nagent notes\n"


def test_a_review_round_that_changes_nothing_is_recorded_as_no_changes(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    _script(
        model,
        {
            "build": fm.write_file_script("hello.txt", "Hello\nWorld\n", final="Wrote hello.txt."),
            "review": fm.text_script("I think hello.txt is fine as it is."),
        },
    )
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, "Greet")
    built = wait_job(srv, httpx.post(srv.api(f"/cards/{card['id']}/start")).json()["id"], timeout=90)
    assert built["status"] == "completed" and built["no_changes"] is False, built["error"]
    comment = httpx.post(srv.api(f"/cards/{card['id']}/comments"), json={"body": "Greet someone specific"})
    assert comment.status_code == 201

    queued = httpx.post(srv.api(f"/cards/{card['id']}/request-changes")).json()["job"]
    round_ = wait_job(srv, queued["id"], timeout=90)

    assert round_["status"] == "completed" and round_["no_changes"] is True, round_["error"]
    assert round_["head_sha"] == built["head_sha"]
    after = _card(srv, card["id"])
    assert after["status"] == "in_review"
    timeline = httpx.get(srv.api(f"/cards/{card['id']}/timeline")).json()["entries"]
    note = next(e for e in timeline if e["kind"] == "no_changes")
    assert note["data"] == {"job_id": round_["id"], "kind": "iterate"}
    assert [e["kind"] for e in timeline][-2:] == ["no_changes", "status"]
    # The comment the round did not act on is open again: asking once more needs no new comment.
    comments = httpx.get(srv.api(f"/cards/{card['id']}/comments")).json()
    assert [c["job_id"] for c in comments] == [None]
    again = httpx.post(srv.api(f"/cards/{card['id']}/request-changes"))
    assert again.status_code == 201, again.text
    assert wait_job(srv, again.json()["job"]["id"], timeout=90)["no_changes"] is True
