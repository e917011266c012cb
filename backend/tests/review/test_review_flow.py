"""The review loop end to end with real runners and the real git client: approve as a real merge
(fast-forward, merge commit, squash), conflicts, comments, request changes, retry, verification."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lazyaf.testing import LiveServer
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, python_agent, scale, wait_job

# An agent that writes NOTES.md, or, when the prompt says so, resolves conflicts / fixes checks.
AGENT = (
    python_agent(
        "import pathlib, re, sys\n"
        "work, prompt = pathlib.Path(sys.argv[1]), sys.argv[2]\n"
        "if 'conflicts' in prompt and 'Resolve every conflict' in prompt:\n"
        "    (work / 'shared.txt').write_text('resolved by the agent\\n')\n"
        "elif 'Verification failed' in prompt:\n"
        "    (work / 'FIXED').write_text('ok\\n')\n"
        "elif 'A reviewer asked for changes' in prompt:\n"
        "    (work / 'NOTES.md').write_text('notes, revised\\n')\n"
        "else:\n"
        "    (work / 'NOTES.md').write_text('notes\\nline two\\n')\n"
        "    (work / 'shared.txt').write_text('changed by the agent\\n')\n"
        "print('prompt was', len(prompt), 'chars')"
    )
    + " {prompt}"
)


def _reviewed(server: LiveServer, repo: dict[str, Any], title: str = "Write notes") -> dict[str, Any]:
    card = new_card(server, repo, title)
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(server, job["id"])
    assert done["status"] == "completed", done["error"]
    card = httpx.get(server.api(f"/cards/{card['id']}")).json()
    assert card["status"] == "in_review"
    return card


def _main_of(repo: dict[str, Any], tmp_path: Path, name: str) -> Path:
    clone = tmp_path / name
    git("clone", "-q", repo["clone_url"], str(clone))
    return clone


def _push_to_main(repo: dict[str, Any], tmp_path: Path, file: str, text: str) -> None:
    clone = _main_of(repo, tmp_path, f"main-edit-{file}")
    (clone / file).write_text(text)
    git("add", ".", cwd=clone)
    git("commit", "-q", "-m", f"Edit {file} on main", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)


def _server(make_server: Callable[..., LiveServer], tmp_path: Path) -> tuple[LiveServer, dict[str, Any]]:
    server = make_server(AGENT)
    repo = ingest(server, tmp_path)
    scale(server, 1)
    return server, repo


def test_approve_fast_forwards_the_default_branch(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    card = _reviewed(server, repo)
    diff = httpx.get(server.api(f"/cards/{card['id']}/diff")).json()
    assert {f["path"]: f["status"] for f in diff["files"]} == {"NOTES.md": "added", "shared.txt": "added"}
    assert "+line two" in diff["patch"]
    commits = httpx.get(server.api(f"/cards/{card['id']}/commits")).json()
    assert [c["summary"] for c in commits] == ["Write notes"]
    head = httpx.get(server.api(f"/repos/{repo['id']}/branches")).json()
    branch_sha = next(b["sha"] for b in head if b["name"] == card["branch_name"])
    response = httpx.post(server.api(f"/cards/{card['id']}/approve"))
    assert response.status_code == 200, response.text
    assert response.json()["merge_sha"] == branch_sha and response.json()["card"]["status"] == "done"
    clone = _main_of(repo, tmp_path, "after")
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == branch_sha
    assert (clone / "NOTES.md").read_text() == "notes\nline two\n"
    again = httpx.post(server.api(f"/cards/{card['id']}/approve"))
    assert again.status_code == 409
    assert again.json()["detail"] == "Card 'Write notes' is done: only in_review cards can be approved."
    kinds = [e["kind"] for e in httpx.get(server.api(f"/cards/{card['id']}/timeline")).json()["entries"]]
    assert kinds[0] == "attempt" and kinds[-1] == "merged" and "status" in kinds
    scale(server, 0)


def test_approve_makes_a_merge_commit_when_main_moved_on(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    card = _reviewed(server, repo)
    _push_to_main(repo, tmp_path, "other.txt", "from main\n")
    merged = httpx.post(server.api(f"/cards/{card['id']}/approve")).json()
    clone = _main_of(repo, tmp_path, "after")
    parents = git("log", "-1", "--format=%P", cwd=clone).stdout.split()
    assert len(parents) == 2 and git("rev-parse", "HEAD", cwd=clone).stdout.strip() == merged["merge_sha"]
    assert (clone / "other.txt").exists() and (clone / "NOTES.md").exists()
    scale(server, 0)


def test_squash_setting_makes_one_commit(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server, repo = _server(make_server, tmp_path)
    httpx.patch(server.api(f"/repos/{repo['id']}"), json={"merge_strategy": "squash"})
    card = _reviewed(server, repo)
    merged = httpx.post(server.api(f"/cards/{card['id']}/approve")).json()
    clone = _main_of(repo, tmp_path, "after")
    assert len(git("log", "-1", "--format=%P", cwd=clone).stdout.split()) == 1
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == merged["merge_sha"]
    assert (clone / "NOTES.md").exists()
    scale(server, 0)


def test_conflict_is_refused_then_resolved_by_the_agent(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    card = _reviewed(server, repo)
    _push_to_main(repo, tmp_path, "shared.txt", "changed on main\n")
    main_before = git("ls-remote", repo["clone_url"], "refs/heads/main").stdout.split()[0]
    refused = httpx.post(server.api(f"/cards/{card['id']}/approve"))
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"Branch {card['branch_name']} conflicts with main in: shared.txt. "
        "Nothing was merged; request changes to have the agent resolve them."
    )
    assert git("ls-remote", repo["clone_url"], "refs/heads/main").stdout.split()[0] == main_before
    card = httpx.get(server.api(f"/cards/{card['id']}")).json()
    assert card["status"] == "in_review" and card["conflict_files"] == ["shared.txt"]
    job = httpx.post(server.api(f"/cards/{card['id']}/request-changes")).json()["job"]
    assert job["kind"] == "resolve"
    assert wait_job(server, job["id"])["status"] == "completed"
    merged = httpx.post(server.api(f"/cards/{card['id']}/approve"))
    assert merged.status_code == 200, merged.text
    clone = _main_of(repo, tmp_path, "after")
    assert (clone / "shared.txt").read_text() == "resolved by the agent\n"
    scale(server, 0)


def test_comments_and_request_changes(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server, repo = _server(make_server, tmp_path)
    card = _reviewed(server, repo)
    url = server.api(f"/cards/{card['id']}/comments")
    outside = httpx.post(url, json={"body": "x", "file": "NOTES.md", "line": 40})
    assert outside.status_code == 422
    assert (
        outside.json()["detail"]
        == "Line 40 of 'NOTES.md' is not part of the diff; comment on a changed or shown line."
    )
    unknown = httpx.post(url, json={"body": "x", "file": "nope.txt"})
    assert unknown.json()["detail"] == "File 'nope.txt' is not part of the diff of card 'Write notes'."
    assert httpx.get(url).json() == []
    anchored = httpx.post(url, json={"body": "Say more here", "file": "NOTES.md", "line": 2})
    assert anchored.status_code == 201 and anchored.json()["snippet"] == "+notes\n+line two"
    httpx.post(url, json={"body": "And a general remark"})
    first_job = card["job_id"]
    queued = httpx.post(server.api(f"/cards/{card['id']}/request-changes")).json()
    job = queued["job"]
    assert job["kind"] == "iterate" and queued["card"]["status"] == "in_progress"
    done = wait_job(server, job["id"])
    assert done["status"] == "completed" and done["branch"] == card["branch_name"]
    commits = httpx.get(server.api(f"/cards/{card['id']}/commits")).json()
    assert len(commits) == 2
    comments = httpx.get(url).json()
    assert {c["job_id"] for c in comments} == {job["id"]}
    jobs = httpx.get(server.api(f"/cards/{card['id']}/jobs")).json()
    assert [j["id"] for j in jobs] == [first_job, job["id"]]
    nothing = httpx.post(server.api(f"/cards/{card['id']}/request-changes"))
    assert nothing.status_code == 409 and "has no open comments" in nothing.json()["detail"]
    scale(server, 0)


def test_verification_sends_the_output_back_until_it_passes(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    httpx.patch(
        server.api(f"/repos/{repo['id']}"),
        json={"test_command": "test -f FIXED || (echo 'FIXED is missing'; exit 3)"},
    )
    card = new_card(server, repo, "Write notes")
    httpx.post(server.api(f"/cards/{card['id']}/start"))

    def settled() -> bool:
        return httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] in ("in_review", "failed")

    from lazyaf.testing import wait_until

    wait_until(settled, 90)
    jobs = httpx.get(server.api(f"/cards/{card['id']}/jobs")).json()
    # The checks are the run's verify step, a job of their own after each agent pass.
    assert [(j["kind"], j["status"]) for j in jobs] == [
        ("build", "completed"),
        ("verify", "failed"),
        ("fix", "completed"),
        ("verify", "completed"),
    ]
    assert (
        jobs[1]["verification"][0]["exit_code"] == 3
        and "FIXED is missing" in jobs[1]["verification"][0]["output"]
    )
    assert jobs[3]["verification"][0]["exit_code"] == 0
    assert jobs[0]["step_id"] == jobs[2]["step_id"] != jobs[1]["step_id"] == jobs[3]["step_id"]
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
    scale(server, 0)


def test_verification_that_never_passes_fails_the_card_after_the_limit(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    httpx.patch(server.api(f"/repos/{repo['id']}"), json={"test_command": "echo 'tests are red'; exit 1"})
    card = new_card(server, repo, "Write notes", max_attempts=2)
    httpx.post(server.api(f"/cards/{card['id']}/start"))
    from lazyaf.testing import wait_until

    wait_until(lambda: httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "failed", 90)
    jobs = httpx.get(server.api(f"/cards/{card['id']}/jobs")).json()
    assert [(j["kind"], j["status"]) for j in jobs] == [
        ("build", "completed"),
        ("verify", "failed"),
        ("fix", "completed"),
        ("verify", "failed"),
    ]
    assert jobs[-1]["error"].startswith(
        "Verification failed: test (`echo 'tests are red'; exit 1`) exited with code 1."
    )
    assert "tests are red" in jobs[-1]["error"]
    retry = httpx.post(server.api(f"/cards/{card['id']}/retry"))
    assert retry.status_code == 409
    assert (
        retry.json()["detail"]
        == "Card 'Write notes' has used all 2 of its attempts; raise its max_attempts to try again."
    )
    httpx.patch(server.api(f"/cards/{card['id']}"), json={"max_attempts": 3})
    httpx.patch(server.api(f"/repos/{repo['id']}"), json={"test_command": ""})
    retried = httpx.post(server.api(f"/cards/{card['id']}/retry"))
    # The checks failed: the build step goes back with their output (then the checks, none set now).
    assert retried.status_code == 201 and retried.json()["job"]["kind"] == "fix"
    retried_job = wait_job(server, retried.json()["job"]["id"])
    assert retried_job["status"] == "completed", retried_job["error"]
    scale(server, 0)


def test_bad_review_requests_change_nothing(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server, repo = _server(make_server, tmp_path)
    todo = new_card(server, repo, "Not started")
    response = httpx.post(server.api(f"/cards/{todo['id']}/approve"))
    assert response.status_code == 409
    assert response.json()["detail"] == "Card 'Not started' is todo: only in_review cards can be approved."
    no_branch = httpx.get(server.api(f"/cards/{todo['id']}/diff"))
    assert no_branch.status_code == 409
    assert no_branch.json() == {
        "detail": "Card 'Not started' has no branch yet; start it first.",
        "code": "branch_missing",
    }
    card = _reviewed(server, repo)
    git("push", "-q", repo["clone_url"], f":refs/heads/{card['branch_name']}", cwd=tmp_path / "src-e2e")
    gone = httpx.post(server.api(f"/cards/{card['id']}/approve"))
    missing = (
        f"Branch {card['branch_name']} no longer exists in repo 'e2e'; reject the card to start it over."
    )
    assert gone.status_code == 409
    assert gone.json() == {"detail": missing, "code": "branch_missing"}
    # The one answer wherever the branch is needed: the diff and the commits say the same.
    for read in ("diff", "commits"):
        answer = httpx.get(server.api(f"/cards/{card['id']}/{read}"))
        assert (answer.status_code, answer.json()) == (409, {"detail": missing, "code": "branch_missing"})
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
    rejected = httpx.post(server.api(f"/cards/{card['id']}/reject"), json={"delete_branch": True})
    assert rejected.status_code == 200 and rejected.json()["status"] == "todo"
    scale(server, 0)
