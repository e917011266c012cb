"""Conflict prediction end to end: a live server, a real local runner, a scripted agent, real git.

Two cards whose agents both rewrite README.md: once both are pushed, each one's conflicts name
the other and README.md (and the board hears it on /ws). Approving one merges it into main; the
other's prediction then names main and README.md; its agent resolves the conflict (request
changes after the refused approve) and the prediction clears.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lazyaf.testing import LiveServer, wait_until
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, python_agent, scale, wait_job
from tests.jobs.test_end_to_end import BoardWatcher

AGENT = (
    python_agent(
        "import pathlib, sys\n"
        "work, prompt = pathlib.Path(sys.argv[1]), sys.argv[2]\n"
        "readme = work / 'README.md'\n"
        "if 'Resolve every conflict' in prompt:\n"
        "    readme.write_text('# Demo\\n\\nRewritten by A and by B, resolved.\\n')\n"
        "elif 'Readme A' in prompt:\n"
        "    readme.write_text('# Demo\\n\\nRewritten by card A.\\n')\n"
        "elif 'Readme B' in prompt:\n"
        "    readme.write_text('# Demo\\n\\nRewritten by card B.\\n')\n"
        "    (work / 'b.txt').write_text('only b\\n')\n"
        "print('done')"
    )
    + " {prompt}"
)


def _conflicts(server: LiveServer, card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(server.api(f"/cards/{card['id']}/conflicts")).json()
    return found


def _reviewed(server: LiveServer, repo: dict[str, Any], title: str) -> dict[str, Any]:
    card = new_card(server, repo, title)
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    done = wait_job(server, job["id"])
    assert done["status"] == "completed", done["error"]
    return card


def test_two_cards_changing_readme_are_predicted_to_conflict_until_resolved(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(AGENT)
    repo = ingest(server, tmp_path)
    board = BoardWatcher(server.url)
    try:
        scale(server, 1)
        a = _reviewed(server, repo, "Readme A")
        b = _reviewed(server, repo, "Readme B")

        def each_names_the_other() -> bool:
            return [c["with"] for c in _conflicts(server, a)] == [b["id"]] and [
                c["with"] for c in _conflicts(server, b)
            ] == [a["id"]]

        wait_until(each_names_the_other, 30)
        (of_a,) = _conflicts(server, a)
        assert (of_a["kind"], of_a["files"], of_a["with_title"], of_a["target"]) == (
            "conflict",
            ["README.md"],
            "Readme B",
            False,
        )
        assert _conflicts(server, b)[0]["files"] == ["README.md"]

        def heard(card: dict[str, Any], check: Callable[[list[dict[str, Any]]], bool]) -> bool:
            events = [
                f["data"] for f in board.of_type("card_conflicts") if f["data"]["card_id"] == card["id"]
            ]
            return bool(events) and check(events[-1]["conflicts"])

        wait_until(lambda: heard(a, lambda c: [x["with"] for x in c] == [b["id"]]), 10)

        # A merges: B now collides with main (A's README is there), A has nothing left.
        approved = httpx.post(server.api(f"/cards/{a['id']}/approve"))
        assert approved.status_code == 200, approved.text

        def b_against_main() -> bool:
            return [(c["with"], c["target"]) for c in _conflicts(server, b)] == [("main", True)]

        wait_until(b_against_main, 30)
        (of_b,) = _conflicts(server, b)
        assert (of_b["kind"], of_b["files"]) == ("conflict", ["README.md"])
        assert "with_title" not in of_b or of_b["with_title"] is None
        assert _conflicts(server, a) == []
        wait_until(lambda: heard(a, lambda c: c == []), 10)

        # The prediction comes true at merge; the agent resolves it and the prediction clears.
        refused = httpx.post(server.api(f"/cards/{b['id']}/approve"))
        assert refused.status_code == 409 and "README.md" in refused.json()["detail"]
        job = httpx.post(server.api(f"/cards/{b['id']}/request-changes")).json()["job"]
        assert job["kind"] == "resolve"
        assert wait_job(server, job["id"])["status"] == "completed"
        wait_until(lambda: _conflicts(server, b) == [], 30)
        wait_until(lambda: heard(b, lambda c: c == []), 10)
        merged = httpx.post(server.api(f"/cards/{b['id']}/approve"))
        assert merged.status_code == 200, merged.text
    finally:
        scale(server, 0)
        board.close()


def test_a_push_to_main_through_the_git_server_is_checked_against_the_cards(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """Someone pushes to main by hand (the real git client, smart HTTP): no card event says so, the
    git server's ref listener does."""
    server = make_server(AGENT)
    repo = ingest(server, tmp_path)
    try:
        scale(server, 1)
        a = _reviewed(server, repo, "Readme A")
        clone = tmp_path / "by-hand"
        git("clone", "-q", repo["clone_url"], str(clone))
        (clone / "README.md").write_text("# Demo\n\nRewritten on main by hand.\n")
        git("commit", "-q", "-am", "Rewrite the README on main", cwd=clone)
        assert _conflicts(server, a) == []
        git("push", "-q", "origin", "main", cwd=clone)
        wait_until(
            lambda: [(c["with"], c["kind"]) for c in _conflicts(server, a)] == [("main", "conflict")], 30
        )
        assert _conflicts(server, a)[0]["files"] == ["README.md"]
    finally:
        scale(server, 0)
