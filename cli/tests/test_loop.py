"""The whole loop from a terminal, for real: the installed `lazyaf` as a process, a live server, one
real local runner and the pinned Claude Code CLI on the scripted model. Output is read the way a
person sees it (a pseudo-terminal: colour, spinner, pager) and the way a script does (pipes)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import ANSI, git, make_repo, run_on_pty, run_piped
from conftest import fm
from lazyaf.testing import LiveServer, wait_until

COST = re.compile(r"\$\d+\.\d{4}\b")


def greeting(request: Any) -> Any:
    """Write hello.txt; once a reviewer has asked for it, a friendlier one."""
    if any("friendlier" in prompt for prompt in request.prompts):
        return fm.write_file_script("hello.txt", "Hello, friend!\n", final="Made it friendlier.")(request)
    return fm.write_file_script("hello.txt", "Hello\n", final="I wrote hello.txt with a greeting.")(request)


def api(srv: LiveServer, path: str) -> Any:
    return httpx.get(srv.api(path), timeout=10).json()


@pytest.fixture
def demo(agent_server: LiveServer, tmp_path: Path) -> dict[str, Any]:
    """A repo named demo, ingested with the CLI."""
    source = make_repo(tmp_path / "src")
    result = run_piped("ingest", source, "--name", "demo", server=agent_server.url)
    assert result.returncode == 0, result.stderr
    repo: dict[str, Any] = api(agent_server, "/repos")[0]
    return repo


def new_card(srv: LiveServer, title: str = "Say hello") -> str:
    result = run_piped(
        "card", "new", "demo", title, "--description", "Write hello.txt with a greeting.", server=srv.url
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_new_start_follow_diff_comment_request_changes_approve(
    agent_server: LiveServer, model: Any, demo: dict[str, Any], tmp_path: Path
) -> None:
    model.script = greeting
    srv = agent_server.url

    card_id = new_card(agent_server)
    assert uuid.UUID(card_id) and api(agent_server, f"/cards/{card_id}")["status"] == "todo"
    ref = card_id[:8]

    # Start and follow on a terminal: colour, the agent's text in full, tool calls on one line.
    started = run_on_pty("card", "start", ref, "--follow", server=srv)
    assert started.returncode == 0, started.text
    assert "\x1b[" in started.output
    lines = started.text.splitlines()
    assert lines[0].startswith("Started 'Say hello' — build job ")
    assert "I'll create hello.txt." in lines
    assert "▸ Write hello.txt" in lines
    assert "I wrote hello.txt with a greeting." in lines
    assert any(line.startswith("· job running") for line in lines)
    assert any("phase: agent" in line for line in lines)
    done = next(line for line in lines if line.startswith("✓ "))
    assert done.startswith("✓ 'Say hello' is in review: 1 commit, 1 file, +1 -0; ")
    assert COST.search(done) and done.endswith(
        f"Next: `lazyaf card diff {ref}`, then `lazyaf card approve {ref}`."
    )
    card = api(agent_server, f"/cards/{card_id}")
    assert card["status"] == "in_review"
    head = git("ls-remote", demo["clone_url"], card["branch_name"]).split()[0]

    # Show: the same words on a terminal (in colour) and through a pipe (plain).
    shown = run_piped("card", "show", ref, server=srv)
    shown_tty = run_on_pty("card", "show", ref, server=srv)
    assert shown.returncode == shown_tty.returncode == 0
    assert not ANSI.search(shown.stdout) and ANSI.search(shown_tty.output)
    assert shown_tty.text.strip().splitlines() == shown.stdout.strip().splitlines()
    assert "  status      in_review" in shown.stdout
    assert f"  branch      {card['branch_name']} at {head[:7]}" in shown.stdout
    assert "  changes     1 commit, 1 file, +1 -0 against main" in shown.stdout
    assert re.search(r"  cost        \$\d+\.\d{4} in 1 job\n", shown.stdout)

    # Diff: a plain patch through a pipe (git applies it), paged through $PAGER on a terminal.
    patch = run_piped("card", "diff", ref, server=srv)
    assert patch.returncode == 0 and patch.stderr == ""
    assert patch.stdout.startswith("diff --git a/hello.txt b/hello.txt\n") and "+Hello\n" in patch.stdout
    check = tmp_path / "check"
    git("clone", "-q", demo["clone_url"], check)
    (tmp_path / "card.patch").write_text(patch.stdout)
    git("-C", check, "apply", "--check", tmp_path / "card.patch")
    paged = run_on_pty("card", "diff", ref, server=srv, env={"PAGER": "sed -e s/^/paged:/"})
    assert paged.returncode == 0
    assert f"paged:# {card['branch_name']} at {head[:7]} against main: 1 file, +1 -0" in paged.text
    assert "paged:+Hello" in paged.text

    # Comment on a line, then send it to the agent and follow through a pipe: no colour, no spinner.
    commented = run_piped(
        "card", "comment", ref, "Make it friendlier", "--file", "hello.txt", "--line", "1", server=srv
    )
    assert commented.returncode == 0, commented.stderr
    assert commented.stdout == (
        f"Commented on hello.txt:1 on 'Say hello'; send it to the agent with "
        f"`lazyaf card request-changes {ref}`.\n"
    )
    again = run_piped("card", "request-changes", ref, "--follow", server=srv)
    assert again.returncode == 0, again.stderr
    assert not ANSI.search(again.stdout + again.stderr) and "\r" not in again.stdout + again.stderr
    assert again.stdout.startswith("Requested changes to 'Say hello' — iterate job ")
    assert "\nMade it friendlier.\n" in again.stdout
    assert "\n✓ 'Say hello' is in review: " in again.stdout
    comments = api(agent_server, f"/cards/{card_id}/comments")
    assert [c["job_id"] for c in comments] == [api(agent_server, f"/cards/{card_id}")["job_id"]]

    every = run_piped("card", "logs", ref, "--all", server=srv)
    headers = [line for line in every.stdout.splitlines() if line.startswith("── ")]
    assert [h.split()[1:3] for h in headers] == [["build", "job"], ["iterate", "job"]]

    # Approve: the branch is merged into main on LazyAF's git server.
    reviewed = git("ls-remote", demo["clone_url"], card["branch_name"]).split()[0]
    approved = run_piped("card", "approve", ref, server=srv)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith("Approved 'Say hello': ")
    card = api(agent_server, f"/cards/{card_id}")
    assert card["status"] == "done"
    git("-C", check, "pull", "-q", "origin", "main")
    assert (check / "hello.txt").read_text() == "Hello, friend!\n"
    assert git("-C", check, "merge-base", "--is-ancestor", reviewed, "HEAD") == ""


def test_json_shapes(agent_server: LiveServer, model: Any, demo: dict[str, Any]) -> None:
    model.script = greeting
    srv = agent_server.url
    made = json.loads(run_piped("card", "new", "demo", "Say hello", "--json", server=srv).stdout)
    assert made["title"] == "Say hello" and made["status"] == "todo" and made["repo_id"] == demo["id"]

    followed = run_piped("--json", "card", "start", made["id"][:8], "--follow", server=srv)
    assert followed.returncode == 0, followed.stderr
    records = [json.loads(line) for line in followed.stdout.splitlines()]
    assert records[0]["type"] == "started" and records[0]["job"]["status"] == "queued"
    assert records[0]["card"]["id"] == made["id"]
    kinds = [r["event"]["kind"] for r in records if r["type"] == "event"]
    assert kinds[0] == "system" and "tool_call" in kinds and kinds[-1] == "result"
    assert {r["type"] for r in records} == {"started", "event", "job", "card", "end"}
    assert records[-1]["type"] == "end" and records[-1]["card"]["status"] == "in_review"
    assert records[-1]["job"]["status"] == "completed"
    seqs = [(r["attempt"], r["seq"]) for r in records if r["type"] == "event"]
    assert seqs == sorted(set(seqs))  # each event once, in order

    shown = json.loads(run_piped("card", "show", made["id"], "--json", server=srv).stdout)
    assert set(shown) == {"card", "repo", "head_sha", "job", "jobs", "total_cost_usd"}
    assert shown["repo"] == {"id": demo["id"], "name": "demo"}
    assert shown["job"]["id"] == shown["card"]["job_id"] == shown["jobs"][-1]["id"]
    assert shown["total_cost_usd"] == shown["job"]["cost_usd"] > 0
    assert len(shown["head_sha"]) == 40

    listed = json.loads(run_piped("cards", "demo", "--json", server=srv).stdout)
    assert [c["id"] for c in listed] == [made["id"]]
    diff = json.loads(run_piped("card", "diff", made["id"][:8], "--json", server=srv).stdout)
    assert diff["head_sha"] == shown["head_sha"] and [f["path"] for f in diff["files"]] == ["hello.txt"]
    assert (diff["total_files"], diff["additions"], diff["deletions"]) == (1, 1, 0)
    assert diff["patch"].startswith("diff --git")
    logs = [
        json.loads(line)
        for line in run_piped("card", "logs", made["id"][:8], "--json", server=srv).stdout.splitlines()
    ]
    assert [r["event"]["kind"] for r in logs] == kinds
    pool = json.loads(run_piped("runners", "--json", server=srv).stdout)
    assert set(pool) == {"runners", "local", "docker", "docker_available", "waiting"} and pool["local"] == 1
    approved = json.loads(run_piped("card", "approve", made["id"][:8], "--json", server=srv).stdout)
    assert approved["card"]["status"] == "done" and len(approved["merge_sha"]) == 40


def test_a_failing_card_exits_1_with_one_line(
    agent_server: LiveServer, model: Any, demo: dict[str, Any]
) -> None:
    model.script = fm.error_script(400, "scripted bad request")
    card_id = new_card(agent_server)

    result = run_piped("card", "start", card_id[:8], "--follow", server=agent_server.url)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: Card 'Say hello' failed: ")
    assert "scripted bad request" in result.stderr
    assert result.stderr.endswith(
        f"See `lazyaf card show {card_id[:8]}`; retry with `lazyaf card retry {card_id[:8]}`.\n"
    )
    assert api(agent_server, f"/cards/{card_id}")["status"] == "failed"

    # Retry, with a model that now works: back on track, exit 0.
    model.script = greeting
    retried = run_piped("card", "retry", card_id[:8], "--follow", server=agent_server.url)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith("Retrying 'Say hello' — retry job ")
    assert "\n✓ 'Say hello' is in review: " in retried.stdout


def test_reject_and_delete_the_branch(agent_server: LiveServer, model: Any, demo: dict[str, Any]) -> None:
    model.script = greeting
    card_id = new_card(agent_server)
    assert run_piped("card", "start", card_id[:8], "--follow", server=agent_server.url).returncode == 0
    branch = api(agent_server, f"/cards/{card_id}")["branch_name"]
    assert git("ls-remote", demo["clone_url"], branch)

    result = run_piped("card", "reject", f"demo#{card_id[:8]}", "--delete-branch", server=agent_server.url)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Rejected 'Say hello': back in To Do; deleted its branch.\n"
    assert api(agent_server, f"/cards/{card_id}")["status"] == "todo"
    assert git("ls-remote", demo["clone_url"], branch) == ""


def test_ctrl_c_stops_following_not_the_job(
    agent_server: LiveServer, model: Any, demo: dict[str, Any]
) -> None:
    model.script = fm.hang_script()
    card_id = new_card(agent_server)
    ref = card_id[:8]

    result = run_on_pty(
        "card", "start", ref, "--follow", server=agent_server.url, interrupt_after="phase: agent"
    )

    assert result.returncode == 130, result.text
    assert result.text.rstrip().endswith(
        f"Stopped following; the job goes on. Follow again with `lazyaf card logs {ref} --follow`, "
        f"or cancel it with `lazyaf card cancel {ref}`."
    )
    assert "Traceback" not in result.text and "Aborted" not in result.text
    card = api(agent_server, f"/cards/{card_id}")
    assert card["status"] == "in_progress"
    assert api(agent_server, f"/jobs/{card['job_id']}")["status"] == "running"

    cancelled = run_piped("card", "cancel", ref, server=agent_server.url)
    assert cancelled.returncode == 0, cancelled.stderr
    wait_until(lambda: api(agent_server, f"/cards/{card_id}")["status"] == "todo", 60)
    assert api(agent_server, f"/jobs/{card['job_id']}")["status"] == "cancelled"


def test_logs_follow_picks_up_a_running_card(
    agent_server: LiveServer, model: Any, demo: dict[str, Any]
) -> None:
    model.script = greeting
    card_id = new_card(agent_server)
    started = run_piped("card", "start", card_id, server=agent_server.url)
    assert started.returncode == 0 and started.stdout.startswith("Started 'Say hello' (build job ")

    followed = run_piped("card", "logs", card_id[:8], "--follow", server=agent_server.url)

    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.count("I wrote hello.txt with a greeting.") == 1
    assert "✓ 'Say hello' is in review" in followed.stdout
