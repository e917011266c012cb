"""Approve merges the head the reviewer saw (``expected_head``) or nothing: a branch swapped after
review is never merged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lazyaf.testing import LiveServer
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, scale, wait_job


def _branches(server: LiveServer, repo: dict[str, Any]) -> dict[str, str]:
    return {b["name"]: b["sha"] for b in httpx.get(server.api(f"/repos/{repo['id']}/branches")).json()}


def _reviewed(server: LiveServer, repo: dict[str, Any]) -> dict[str, Any]:
    card = new_card(server, repo, "Add agent notes")
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    assert wait_job(server, job["id"])["status"] == "completed"
    card = httpx.get(server.api(f"/cards/{card['id']}")).json()
    assert card["status"] == "in_review"
    return card


def test_approve_after_the_branch_moved_merges_nothing(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    repo = ingest(server, tmp_path)
    scale(server, 1)
    card = _reviewed(server, repo)
    seen = httpx.get(server.api(f"/cards/{card['id']}/diff")).json()["head_sha"]
    # After the review, someone swaps what the branch holds.
    clone = tmp_path / "swap"
    git("clone", "-q", "--branch", card["branch_name"], repo["clone_url"], str(clone))
    (clone / "AGENT.md").write_text("not what was reviewed\n")
    git("commit", "-q", "-am", "Swap the reviewed work", cwd=clone)
    git("push", "-q", "origin", card["branch_name"], cwd=clone)
    before = _branches(server, repo)
    assert before[card["branch_name"]] != seen

    refused = httpx.post(server.api(f"/cards/{card['id']}/approve"), json={"expected_head": seen})

    assert refused.status_code == 409
    moved_to = before[card["branch_name"]]
    assert refused.json()["detail"] == (
        f"Branch {card['branch_name']} moved since it was reviewed: "
        f"it is at {moved_to[:12]}, not {seen[:12]}. "
        "Nothing was merged; review the new diff and approve again."
    )
    assert _branches(server, repo) == before
    after = httpx.get(server.api(f"/cards/{card['id']}")).json()
    assert (after["status"], after["merge_sha"]) == ("in_review", None)
    timeline = httpx.get(server.api(f"/cards/{card['id']}/timeline")).json()["entries"]
    assert "merged" not in [e["kind"] for e in timeline]

    # Approving the head now shown merges exactly that commit.
    shown = httpx.get(server.api(f"/cards/{card['id']}/diff")).json()["head_sha"]
    merged = httpx.post(server.api(f"/cards/{card['id']}/approve"), json={"expected_head": shown})
    assert merged.status_code == 200, merged.text
    assert merged.json()["merge_sha"] == moved_to == _branches(server, repo)["main"]  # a fast-forward
    scale(server, 0)


def test_approve_with_the_head_seen_merges_and_a_malformed_head_changes_nothing(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    repo = ingest(server, tmp_path)
    scale(server, 1)
    card = _reviewed(server, repo)
    before = _branches(server, repo)
    for bad in ("HEAD", "main", "abc", "g" * 40):
        response = httpx.post(server.api(f"/cards/{card['id']}/approve"), json={"expected_head": bad})
        assert response.status_code == 422 and "expected_head" in response.json()["detail"]
    assert _branches(server, repo) == before
    head = before[card["branch_name"]]
    merged = httpx.post(server.api(f"/cards/{card['id']}/approve"), json={"expected_head": head.upper()})
    assert merged.status_code == 200, merged.text
    assert merged.json()["card"]["status"] == "done" and _branches(server, repo)["main"] == head
    scale(server, 0)
