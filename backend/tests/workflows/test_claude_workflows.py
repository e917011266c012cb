"""Workflows end to end: real git, a local runner and the real Claude Code CLI on the scripted model.

A ``plan_build`` run commits the plan, then the code, then runs the repo's checks; the commits
carry the LazyAF trailers and ``GET /api/cards/{id}/runs`` shows the steps with their figures. A
plan step that touches a source file fails, naming it, and keeps nothing. ``review_plan`` stops
in review with the plan; request changes re-plans with the comment; approve goes on to build.
A follow-up sent while a step runs reaches the model in the same session after that step.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from lazyaf.workflows.plan import planned_files
from tests.gitutil import git
from tests.jobs.conftest import ingest, job_of, new_card, scale
from tests.jobs.test_claude_end_to_end import CLAUDE, fm

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="the pinned Claude Code CLI is not installed")

PLANNING = "You are planning a change"
BUILDING = "You are implementing a change"
REFINING = "A reviewer read the plan"
PLAN_PATH = re.compile(r"Write the plan to `([^`]+)`")
REFINE_PATH = re.compile(r"read the plan in `([^`]+)`")


def plan_text(version: str = "v1") -> str:
    return f"---\nfiles:\n  - hello.py\n---\n# Plan ({version})\n\nWrite hello.py that prints a greeting.\n"


@pytest.fixture
def server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel() as model:
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        settings.default_agent = "claude"
        settings.claude_binary = str(CLAUDE)
        settings.anthropic_api_key = "sk-ant-test-workflows-0123456789"  # type: ignore[assignment]
        settings.anthropic_base_url = model.url
        settings.lease_ttl = 10
        with live_server(settings, migrate=False) as srv:
            scale(srv, 1)
            yield srv, model
            scale(srv, 0)


def _write(path: str, content: str) -> Any:
    return fm.reply(f"I'll write {path}.", fm.ToolUse("Write", {"file_path": path, "content": content}))


def _read(path: str) -> Any:
    return fm.reply(f"Let me read {path}.", fm.ToolUse("Read", {"file_path": path}))


def by_prompt(rounds: dict[str, Callable[[Any], Any]], default: Callable[[Any], Any] | None = None) -> Any:
    """A script answering by the latest prompt: the first key found in it picks the round."""

    def script(request: Any) -> Any:
        prompt = request.last_user_text
        for key, round_ in rounds.items():
            if key in prompt:
                return round_(request)
        return (default or fm.text_script("Nothing to do."))(request)

    return script


def planner(version: str = "v1", *, also: dict[str, str] | None = None) -> Callable[[Any], Any]:
    """Write the plan where the prompt says (and, to break the rule, ``also`` other files)."""

    def round_(request: Any) -> Any:
        found = PLAN_PATH.search(request.last_user_text)
        assert found, request.last_user_text
        writes = [_write(found.group(1), plan_text(version))]
        writes += [_write(path, content) for path, content in (also or {}).items()]
        return fm.Steps(*writes, "Planned.")(request)

    return round_


def refiner(request: Any) -> Any:
    found = REFINE_PATH.search(request.last_user_text)
    assert found, request.last_user_text
    return fm.Steps(_read(found.group(1)), _write(found.group(1), plan_text("v2")), "Refined.")(request)


def wait_card(srv: LiveServer, card_id: str, status: str, timeout: float = 120) -> dict[str, Any]:
    def ready() -> bool:
        return httpx.get(srv.api(f"/cards/{card_id}")).json()["status"] == status

    wait_until(ready, timeout)
    card: dict[str, Any] = httpx.get(srv.api(f"/cards/{card_id}")).json()
    return card


def runs_of(srv: LiveServer, card_id: str) -> list[dict[str, Any]]:
    response = httpx.get(srv.api(f"/cards/{card_id}/runs"))
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    return runs


def trailers(clone: Path, rev: str) -> dict[str, str]:
    text = git("log", "-1", "--format=%(trailers:only,unfold)", rev, cwd=clone).stdout
    return dict(line.split(": ", 1) for line in text.strip().splitlines())


def test_plan_build_commits_the_plan_then_the_code_with_trailers_and_step_figures(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    model.script = by_prompt(
        {
            PLANNING: planner(),
            BUILDING: fm.Steps(_write("hello.py", "print('hello')\n"), "Built."),
        }
    )
    repo = ingest(srv, tmp_path)
    checks = httpx.patch(srv.api(f"/repos/{repo['id']}"), json={"test_command": "test -f hello.py"})
    assert checks.status_code == 200, checks.text
    card = new_card(srv, repo, "Say hello")
    started = httpx.post(srv.api(f"/cards/{card['id']}/start"), json={"workflow": "plan_build"})
    assert started.status_code == 201, started.text
    assert started.json()["kind"] == "plan"
    card = wait_card(srv, card["id"], "in_review")

    (run,) = runs_of(srv, card["id"])
    assert (run["workflow"], run["status"], run["review_plan"], run["phase"]) == (
        "plan_build",
        "succeeded",
        False,
        None,
    )
    plan, build, verify = run["steps"]
    assert [(s["position"], s["kind"], s["status"]) for s in run["steps"]] == [
        (0, "plan", "succeeded"),
        (1, "build", "succeeded"),
        (2, "verify", "succeeded"),
    ]
    for step in (plan, build):
        assert step["agent"] == "claude" and step["session_id"] and step["job_id"]
        assert step["commits"] == 1 and step["files_changed"] == 1 and step["lines_removed"] == 0
        assert step["cost_usd"] is not None and step["input_tokens"] > 0 and step["output_tokens"] > 0
        assert step["started_at"] <= step["finished_at"] and step["error"] is None
    assert plan["lines_added"] == plan_text().count("\n") and build["lines_added"] == 1
    assert plan["session_id"] != build["session_id"]  # the build starts fresh, with the plan in its prompt
    assert verify["agent"] is None and verify["commits"] == 0 and verify["cost_usd"] is None
    assert verify["verification"][0]["exit_code"] == 0 and verify["verification"][0]["name"] == "test"

    # The build's prompt carried the plan's full text.
    built = next(r for r in model.requests if BUILDING in r.last_user_text)
    assert "Write hello.py that prints a greeting." in built.last_user_text
    assert job_of(srv, build["job_id"])["kind"] == "build"

    # git: the plan commit holds only the plan, then the code; both carry the trailers.
    clone = tmp_path / "check"
    git("clone", "-q", "--branch", card["branch_name"], repo["clone_url"], str(clone))
    subjects = git("log", "--format=%H", f"origin/main..{card['branch_name']}", cwd=clone).stdout.split()
    code_commit, plan_commit = subjects
    plan_file = f"docs/plans/{card['branch_name'].removeprefix('lazyaf/')}.md"
    assert git("show", "--name-only", "--format=", plan_commit, cwd=clone).stdout.split() == [plan_file]
    assert git("show", "--name-only", "--format=", code_commit, cwd=clone).stdout.split() == ["hello.py"]
    assert planned_files((clone / plan_file).read_text()) == ["hello.py"]
    for commit, step in ((plan_commit, plan), (code_commit, build)):
        assert trailers(clone, commit) == {
            "LazyAF-Card": card["id"],
            "LazyAF-Run": run["id"],
            "LazyAF-Step": step["id"],
        }


def test_a_plan_step_that_edits_a_source_file_fails_naming_it_and_keeps_nothing(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    model.script = by_prompt({PLANNING: planner(also={"app.py": "print('sneaky')\n"})})
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, "Plan only please", max_attempts=1)
    assert httpx.post(srv.api(f"/cards/{card['id']}/start"), json={"workflow": "plan"}).status_code == 201
    card = wait_card(srv, card["id"], "failed")
    (run,) = runs_of(srv, card["id"])
    (step,) = run["steps"]
    assert (run["status"], step["status"]) == ("failed", "failed")
    assert "The plan step may change only docs/plans/" in step["error"]
    assert "but the agent also changed: app.py." in step["error"]
    assert run["error"] == step["error"]
    job = job_of(srv, step["job_id"])
    assert job["status"] == "failed" and job["error"] == step["error"]
    # Nothing reached the card branch.
    branches = [b["name"] for b in httpx.get(srv.api(f"/repos/{repo['id']}/branches")).json()]
    assert card["branch_name"] not in branches


def test_review_plan_stops_in_review_request_changes_replans_and_approve_builds(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    model.script = by_prompt(
        {
            REFINING: refiner,
            PLANNING: planner(),
            BUILDING: fm.Steps(_write("hello.py", "print('hello')\n"), "Built."),
        }
    )
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, "Plan first")
    plan_file = f"docs/plans/{card['id'].replace('-', '')[:8]}-plan-first.md"
    body = {"workflow": "plan_build", "review_plan": True}
    assert httpx.post(srv.api(f"/cards/{card['id']}/start"), json=body).status_code == 201
    card = wait_card(srv, card["id"], "in_review")
    (run,) = runs_of(srv, card["id"])
    assert (run["status"], run["phase"], run["review_plan"]) == ("waiting", "plan_review", True)
    assert [s["status"] for s in run["steps"]] == ["succeeded", "pending", "pending"]
    diff = httpx.get(srv.api(f"/cards/{card['id']}/diff")).json()
    assert [f["path"] for f in diff["files"]] == [plan_file]

    # Request changes: the plan step runs again (refine) with the comment, in its session.
    comment = httpx.post(
        srv.api(f"/cards/{card['id']}/comments"), json={"body": "Cover the error cases too."}
    )
    assert comment.status_code == 201, comment.text
    again = httpx.post(srv.api(f"/cards/{card['id']}/request-changes"))
    assert again.status_code == 201, again.text
    refine = again.json()["job"]
    assert refine["kind"] == "refine" and refine["step_id"] == run["steps"][0]["id"]
    card = wait_card(srv, card["id"], "in_review")
    refined = [r for r in model.requests if REFINING in r.last_user_text]
    assert refined and "Cover the error cases too." in refined[0].last_user_text
    (run,) = runs_of(srv, card["id"])
    assert run["status"] == "waiting" and run["steps"][0]["attempts"] == 2
    assert run["steps"][0]["session_id"] == job_of(srv, refine["id"])["session_id"]
    assert not any(BUILDING in r.last_user_text for r in model.requests)  # nothing built yet

    # Approve the plan: the run goes on to build and verify; nothing is merged.
    head = httpx.get(srv.api(f"/cards/{card['id']}/diff")).json()["head_sha"]
    approved = httpx.post(srv.api(f"/cards/{card['id']}/approve"), json={"expected_head": head})
    assert approved.status_code == 200, approved.text
    assert approved.json()["plan_approved"] is True and approved.json()["merge_sha"] == ""
    assert approved.json()["card"]["status"] == "in_progress"
    card = wait_card(srv, card["id"], "in_review")
    (run,) = runs_of(srv, card["id"])
    assert run["status"] == "succeeded"
    assert [s["status"] for s in run["steps"]] == ["succeeded", "succeeded", "skipped"]  # no checks set
    built = next(r for r in model.requests if BUILDING in r.last_user_text)
    assert "# Plan (v2)" in built.last_user_text


def test_a_follow_up_sent_while_a_step_runs_reaches_the_model_in_the_same_session_after_it(
    server: tuple[LiveServer, Any], tmp_path: Path
) -> None:
    srv, model = server
    release = threading.Event()
    asked = threading.Event()

    def hold_then_write(request: Any) -> Any:
        if request.turn == 0:
            asked.set()
            assert release.wait(60), "the test never released the model"
        return fm.Steps(_write("hello.py", "print('hello')\n"), "Built.")(request)

    model.script = by_prompt(
        {
            BUILDING: hold_then_write,
            "Also add a docstring": fm.Steps(
                _read("hello.py"), _write("hello.py", '"""Greets."""\nprint("hello")\n'), "Added."
            ),
        }
    )
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, "Say hello")
    first = httpx.post(srv.api(f"/cards/{card['id']}/start"), json={"workflow": "build"}).json()
    assert asked.wait(90)
    sent = httpx.post(
        srv.api(f"/cards/{card['id']}/prompt"), json={"text": "Also add a docstring to hello.py."}
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued" and sent.json()["job_id"] is None
    release.set()
    card = wait_card(srv, card["id"], "in_review")
    (run,) = runs_of(srv, card["id"])
    build, verify = run["steps"]
    assert build["attempts"] == 2 and build["status"] == "succeeded" and verify["status"] == "skipped"
    followup = job_of(srv, build["job_id"])
    built = job_of(srv, first["id"])
    assert followup["kind"] == "followup" and followup["status"] == "completed"
    assert followup["session_id"] == built["session_id"]  # the same session, resumed
    turn = next(r for r in model.requests if "Also add a docstring" in r.last_user_text)
    assert any("Built." in str(m.get("content")) for m in turn.messages)  # it carries the first turn
    clone = tmp_path / "check"
    git("clone", "-q", "--branch", card["branch_name"], repo["clone_url"], str(clone))
    assert (clone / "hello.py").read_text().startswith('"""Greets."""')
