"""The review loop's rough edges (issue 11), against a live server, real local runners and the real
git client: approve refuses conflict markers, approvals of a repo wait in line, deleting a repo never
wedges a runner, and a done card keeps the diff and commits it merged."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.testing import LiveServer, live_server, wait_until
from tests.gitutil import git
from tests.jobs.conftest import ingest, job_of, new_card, python_agent, scale, wait_job
from tests.jobs.test_faults import processes_with

MARKER = "lazyaf-review-loop-slow-agent"
# Writes <first word of the title>.txt; a card titled "Slow ..." starts a child and sleeps instead.
AGENT = (
    python_agent(
        "import pathlib, re, subprocess, sys, time\n"
        "work, prompt = pathlib.Path(sys.argv[1]), sys.argv[2]\n"
        "name = re.search(r'Title: (\\\\w+)', prompt).group(1)\n"
        "if name == 'Slow':\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[3]])\n"
        "    print('working', flush=True)\n"
        "    time.sleep(600)\n"
        "(work / (name + '.txt')).write_text('written for ' + name + '\\\\n')\n"
        "print('wrote', name)"
    )
    + " {prompt} "
    + MARKER
)
CONFLICTED = "intro\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> origin/main\n"


def _server(
    make_server: Callable[..., LiveServer], tmp_path: Path, runners: int = 1
) -> tuple[LiveServer, Any]:
    server = make_server(AGENT)
    repo = ingest(server, tmp_path)
    scale(server, runners)
    return server, repo


def _reviewed(server: LiveServer, repo: dict[str, Any], title: str) -> dict[str, Any]:
    card = new_card(server, repo, title)
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(server, job["id"])
    assert done["status"] == "completed", done["error"]
    card = httpx.get(server.api(f"/cards/{card['id']}")).json()
    assert card["status"] == "in_review"
    return card


def _main_tip(repo: dict[str, Any]) -> str:
    return git("ls-remote", repo["clone_url"], "refs/heads/main").stdout.split()[0]


def _clone(repo: dict[str, Any], dest: Path, branch: str = "main") -> Path:
    git("clone", "-q", "--branch", branch, repo["clone_url"], str(dest))
    return dest


def _push_to(repo: dict[str, Any], tmp_path: Path, branch: str, files: dict[str, str], name: str) -> None:
    clone = _clone(repo, tmp_path / name, branch)
    for path, text in files.items():
        (clone / path).write_text(text)
    git("add", ".", cwd=clone)
    git("commit", "-q", "-m", f"Edit {', '.join(files)} on {branch}", cwd=clone)
    git("push", "-q", "origin", branch, cwd=clone)


# -- approve refuses conflict markers ----------------------------------------------------------------


def test_approve_refuses_a_branch_whose_files_hold_conflict_markers(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """Someone pushed an unresolved merge onto the card branch: git sees no conflict, approve does."""
    server, repo = _server(make_server, tmp_path)
    card = _reviewed(server, repo, "Notes")
    _push_to(repo, tmp_path, card["branch_name"], {"README.md": CONFLICTED}, "marked")
    main_before = _main_tip(repo)

    refused = httpx.post(server.api(f"/cards/{card['id']}/approve"))

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"Branch {card['branch_name']} holds conflict markers (<<<<<<< / >>>>>>> lines) that main "
        "lacks in: README.md. Nothing was merged; request changes to have the agent resolve them.",
        "code": "conflict",
    }
    assert _main_tip(repo) == main_before
    card = httpx.get(server.api(f"/cards/{card['id']}")).json()
    assert card["status"] == "in_review" and card["conflict_files"] == ["README.md"]
    assert card["merge_sha"] is None and card["merged_head_sha"] is None
    # The stored flag is not what approve trusts: the branch fixed by hand merges.
    _push_to(repo, tmp_path, card["branch_name"], {"README.md": "intro\nboth\n"}, "fixed")
    merged = httpx.post(server.api(f"/cards/{card['id']}/approve"))
    assert merged.status_code == 200, merged.text
    assert merged.json()["card"]["conflict_files"] is None
    scale(server, 0)


# -- approvals wait in line --------------------------------------------------------------------------


def _approve_at_once(urls: list[str]) -> list[httpx.Response]:
    """POST every URL at the same moment, from threads."""
    barrier = threading.Barrier(len(urls))

    def post(url: str) -> httpx.Response:
        barrier.wait()
        return httpx.post(url, timeout=60)

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(post, urls))


def _first_parents(clone: Path) -> list[str]:
    return git("rev-list", "--first-parent", "HEAD", cwd=clone).stdout.split()


def test_three_cards_approved_at_the_same_moment_all_merge(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    cards = [_reviewed(server, repo, title) for title in ("Alpha", "Beta", "Gamma")]

    answers = _approve_at_once([server.api(f"/cards/{c['id']}/approve") for c in cards])

    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    main = _clone(repo, tmp_path / "main")
    for name in ("Alpha", "Beta", "Gamma"):
        assert (main / f"{name}.txt").read_text() == f"written for {name}\n"
    # Each merged onto the one before it: all three results are on main's first-parent line.
    shas = {a.json()["merge_sha"] for a in answers}
    assert len(shas) == 3 and shas <= set(_first_parents(main))
    assert _main_tip(repo) in shas
    for card in cards:
        assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "done"
    scale(server, 0)


def test_approvals_still_merge_when_two_servers_share_the_database(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """Two server processes keep separate lines; the compare-and-swap on main and a rebuilt merge
    on a lost race (up to APPROVE_TRIES) still land every card."""
    server, repo = _server(make_server, tmp_path)
    cards = [_reviewed(server, repo, title) for title in ("Alpha", "Beta", "Gamma")]
    scale(server, 0)
    with live_server(server.settings, migrate=False) as other:
        urls = [
            (server if i % 2 == 0 else other).api(f"/cards/{card['id']}/approve")
            for i, card in enumerate(cards)
        ]
        answers = _approve_at_once(urls)
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    main = _clone(repo, tmp_path / "main")
    assert all((main / f"{name}.txt").exists() for name in ("Alpha", "Beta", "Gamma"))


def test_a_real_conflict_in_the_line_is_still_a_conflict(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    alpha = _reviewed(server, repo, "Alpha")
    beta = _reviewed(server, repo, "Beta")
    # Beta's branch also writes Alpha.txt, differently: whichever goes second conflicts.
    _push_to(repo, tmp_path, beta["branch_name"], {"Alpha.txt": "Beta's version\n"}, "beta-edit")

    answers = _approve_at_once([server.api(f"/cards/{c['id']}/approve") for c in (alpha, beta)])

    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert "conflicts with main in: Alpha.txt." in refused["detail"]
    scale(server, 0)


def test_a_default_branch_held_by_another_writer_is_retried_then_refused_cleanly(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """What another server process looks like from here: main's ref lock is taken. Approve tries
    APPROVE_TRIES times, then answers 409 with nothing merged; once the lock is gone it merges."""
    server, repo = _server(make_server, tmp_path)
    card = _reviewed(server, repo, "Alpha")
    _push_to(repo, tmp_path, "main", {"other.txt": "from main\n"}, "main-moves")  # a real merge is needed
    lock = server.settings.git_repos_dir / f"{repo['id']}.git" / "refs" / "heads" / "main.lock"
    assert lock.parent.is_dir()
    lock.write_text("")
    main_before = _main_tip(repo)

    refused = httpx.post(server.api(f"/cards/{card['id']}/approve"))

    assert refused.status_code == 409 and refused.json()["code"] == "target_moved"
    assert "Approve again" in refused.json()["detail"]
    assert _main_tip(repo) == main_before
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
    lock.unlink()
    assert httpx.post(server.api(f"/cards/{card['id']}/approve")).status_code == 200
    scale(server, 0)


# -- deleting a repo never wedges a runner ------------------------------------------------------------


def _runners(server: LiveServer) -> list[dict[str, Any]]:
    runners: list[dict[str, Any]] = httpx.get(server.api("/runners")).json()["runners"]
    return runners


def test_a_repo_with_running_work_is_refused_then_deleted_with_cancel(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server, repo = _server(make_server, tmp_path)
    other = ingest(server, tmp_path, name="other")
    slow = new_card(server, repo, "Slow work")
    running = httpx.post(server.api(f"/cards/{slow['id']}/start")).json()
    wait_until(lambda: job_of(server, running["id"])["phase"] == "agent", 30)
    waiting = new_card(server, repo, "Queued work")
    queued = httpx.post(server.api(f"/cards/{waiting['id']}/start")).json()
    assert job_of(server, queued["id"])["status"] == "queued"  # the only runner is busy

    refused = httpx.delete(server.api(f"/repos/{repo['id']}"))

    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "Repo 'e2e' has agent work queued or running on 2 cards: 'Slow work', 'Queued work'. "
        "Cancel those jobs first, or delete with ?cancel=true to cancel them and delete the repo.",
        "code": "conflict",
    }
    assert httpx.get(server.api(f"/repos/{repo['id']}")).status_code == 200
    assert job_of(server, running["id"])["status"] == "running"
    assert job_of(server, queued["id"])["status"] == "queued"
    assert processes_with(MARKER)

    deleted = httpx.delete(server.api(f"/repos/{repo['id']}"), params={"cancel": "true"})

    assert deleted.status_code == 204
    assert httpx.get(server.api(f"/repos/{repo['id']}")).status_code == 404
    assert httpx.get(server.api(f"/jobs/{running['id']}")).status_code == 404
    (runner,) = _runners(server)
    assert runner["current_job_id"] is None and runner["status"] != "busy"
    wait_until(lambda: not processes_with(MARKER), 30)  # the agent and its child were killed
    # The freed runner takes the next card, of another repo.
    card = new_card(server, other, "Next card")
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(server, job["id"])
    assert done["status"] == "completed", done["error"]
    assert done["runner_id"] == runner["id"]
    wait_until(lambda: _runners(server)[0]["status"] == "idle", 10)
    scale(server, 0)


def test_a_repo_with_only_queued_work_is_refused_then_deleted_with_cancel(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(AGENT)
    repo = ingest(server, tmp_path)  # no runner: the job waits in the queue
    card = new_card(server, repo, "Queued work")
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    refused = httpx.delete(server.api(f"/repos/{repo['id']}"), params={"cancel": "false"})
    assert refused.status_code == 409 and "1 card: 'Queued work'" in refused.json()["detail"]
    assert job_of(server, job["id"])["status"] == "queued"
    garbled = httpx.delete(server.api(f"/repos/{repo['id']}"), params={"cancel": "please"})
    assert garbled.status_code == 422 and garbled.json()["detail"].startswith("Invalid request: cancel:")
    assert httpx.get(server.api(f"/repos/{repo['id']}")).status_code == 200
    assert job_of(server, job["id"])["status"] == "queued"
    assert httpx.delete(server.api(f"/repos/{repo['id']}"), params={"cancel": "true"}).status_code == 204
    assert httpx.get(server.api(f"/jobs/{job['id']}")).status_code == 404
    # A repo with no work left goes without asking.
    idle = ingest(server, tmp_path, name="idle")
    new_card(server, idle, "Never started")
    assert httpx.delete(server.api(f"/repos/{idle['id']}")).status_code == 204


# -- done cards keep their diff ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "main_moves", "kind"),
    [
        ("auto", False, "fast_forward"),
        ("auto", True, "merge"),
        ("merge", False, "merge"),
        ("squash", True, "squash"),
    ],
)
def test_a_merged_card_keeps_its_diff_and_commits(
    make_server: Callable[..., LiveServer], tmp_path: Path, strategy: str, main_moves: bool, kind: str
) -> None:
    server, repo = _server(make_server, tmp_path)
    httpx.patch(server.api(f"/repos/{repo['id']}"), json={"merge_strategy": strategy})
    card = _reviewed(server, repo, "Notes")
    if main_moves:
        _push_to(repo, tmp_path, "main", {"other.txt": "from main\n"}, "main-moves")
    before = httpx.get(server.api(f"/cards/{card['id']}/diff")).json()
    branch_head = before["head_sha"]

    approved = httpx.post(server.api(f"/cards/{card['id']}/approve"))

    assert approved.status_code == 200, approved.text
    done = approved.json()["card"]
    assert done["merged_head_sha"] == branch_head and done["merge_base_sha"] == before["merge_base_sha"]
    timeline = httpx.get(server.api(f"/cards/{card['id']}/timeline")).json()["entries"]
    assert timeline[-1]["kind"] == "merged" and timeline[-1]["data"]["kind"] == kind
    for stage in ("merged", "branch deleted"):
        diff = httpx.get(server.api(f"/cards/{card['id']}/diff")).json()
        assert [f["path"] for f in diff["files"]] == ["Notes.txt"], stage
        assert diff["total_files"] == 1 and diff["additions"] == 1 and "+written for Notes" in diff["patch"]
        assert (diff["base_sha"], diff["head_sha"]) == (before["merge_base_sha"], branch_head)
        commits = httpx.get(server.api(f"/cards/{card['id']}/commits")).json()
        assert [c["summary"] for c in commits] == ["Notes"], stage
        if stage == "merged":
            # Deleting the branch must not take the merged card's history with it.
            git(
                "push",
                "-q",
                repo["clone_url"],
                f":refs/heads/{card['branch_name']}",
                cwd=tmp_path / "src-e2e",
            )
    scale(server, 0)
