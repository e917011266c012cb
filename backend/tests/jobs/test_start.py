"""POST /api/cards/{id}/start: on with the card's branch, or ``fresh`` on a new one from main."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.cards.models import Card
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
        await session.commit()
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


def _bare(settings: Settings, repo: Repo) -> Path:
    return repo_service.git_path(settings, repo)


def _branch_sha(settings: Settings, repo: Repo, branch: str) -> str | None:
    found = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=_bare(settings, repo), check=False)
    return found.stdout.strip() or None


def _make_branch(settings: Settings, repo: Repo, branch: str) -> str:
    """An old branch of the card, one commit ahead of main, as a finished agent pass leaves it."""
    bare = _bare(settings, repo)
    main = git("rev-parse", "main", cwd=bare).stdout.strip()
    tree = git("rev-parse", "main^{tree}", cwd=bare).stdout.strip()
    commit = git("commit-tree", tree, "-p", main, "-m", "Old work", cwd=bare).stdout.strip()
    git("update-ref", f"refs/heads/{branch}", commit, cwd=bare)
    return commit


async def _back_to_todo(client: httpx.AsyncClient, job: dict[str, Any]) -> dict[str, Any]:
    """Cancel the queued job (no runner here): the card returns to To Do keeping its branch name."""
    assert (await client.post(f"/api/jobs/{job['id']}/cancel")).status_code == 200
    card = (await client.get(f"/api/cards/{job['card_id']}")).json()
    assert card["status"] == "todo"
    return card


async def test_a_started_card_goes_on_with_its_branch_unless_fresh(
    client: httpx.AsyncClient, settings: Settings, repo: Repo
) -> None:
    card = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Add notes"})).json()
    first = (await client.post(f"/api/cards/{card['id']}/start")).json()
    old_branch = first["branch"]
    assert old_branch == f"lazyaf/{card['id'].replace('-', '')[:8]}-add-notes"
    old_sha = _make_branch(settings, repo, old_branch)
    await _back_to_todo(client, first)

    again = (await client.post(f"/api/cards/{card['id']}/start", json={"fresh": False})).json()
    assert again["branch"] == old_branch
    await _back_to_todo(client, again)

    response = await client.post(f"/api/cards/{card['id']}/start", json={"fresh": True})
    assert response.status_code == 201, response.text
    fresh = response.json()
    assert fresh["branch"] == f"{old_branch}-2"
    assert fresh["base_sha"] == git("rev-parse", "main", cwd=_bare(settings, repo)).stdout.strip()
    card = (await client.get(f"/api/cards/{card['id']}")).json()
    assert card["branch_name"] == f"{old_branch}-2" and card["status"] == "in_progress"
    # The old branch is kept in git, untouched; the new one does not exist until the agent pushes.
    assert _branch_sha(settings, repo, old_branch) == old_sha
    assert _branch_sha(settings, repo, f"{old_branch}-2") is None


async def test_a_card_whose_branch_was_deleted_never_lands_on_an_old_branch_of_the_same_name(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, repo: Repo
) -> None:
    """Rejected with its branch deleted, a card starts on a free name even if a branch it left
    behind earlier (a fresh start kept it) still holds the default name."""
    card = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Add notes"})).json()
    job = (await client.post(f"/api/cards/{card['id']}/start")).json()
    kept = _make_branch(settings, repo, job["branch"])
    await _back_to_todo(client, job)
    fresh = (await client.post(f"/api/cards/{card['id']}/start", json={"fresh": True})).json()
    _make_branch(settings, repo, fresh["branch"])
    await _back_to_todo(client, fresh)
    # What reject with delete_branch leaves: no branch name on the card.
    async with app.state.sessionmaker() as session:
        row = await session.get(Card, uuid.UUID(card["id"]))
        assert row is not None
        row.branch_name = None
        await session.commit()
    started = (await client.post(f"/api/cards/{card['id']}/start")).json()
    assert started["branch"] == f"{job['branch']}-3"
    assert _branch_sha(settings, repo, job["branch"]) == kept


async def test_bad_start_requests_change_nothing(client: httpx.AsyncClient, repo: Repo) -> None:
    card = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Add notes"})).json()
    for body, fragment in [
        ({"fresh": "maybe"}, "fresh: Input should be a valid boolean"),
        ({"frsh": True}, "Extra inputs are not permitted"),
    ]:
        response = await client.post(f"/api/cards/{card['id']}/start", json=body)
        assert response.status_code == 422 and fragment in response.json()["detail"], response.text
    assert (await client.get(f"/api/cards/{card['id']}")).json()["status"] == "todo"
    assert (await client.get(f"/api/cards/{card['id']}/jobs")).json() == []

    job = (await client.post(f"/api/cards/{card['id']}/start")).json()
    response = await client.post(f"/api/cards/{card['id']}/start", json={"fresh": True})
    assert response.status_code == 409
    assert "in_progress" in response.json()["detail"]
    after = (await client.get(f"/api/cards/{card['id']}")).json()
    assert after["branch_name"] == job["branch"] and after["job_id"] == job["id"]
    assert len((await client.get(f"/api/cards/{card['id']}/jobs")).json()) == 1
