"""Cards: create, list, edit, move within and between columns, delete."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.cards.models import CardStatus
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from tests.factories import make_card


@pytest.fixture
async def repo(app: FastAPI, settings: Settings) -> Repo:
    async with app.state.sessionmaker() as session:
        return await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="board"))


async def _card(client: httpx.AsyncClient, repo: Repo, title: str, **fields: object) -> dict[str, object]:
    response = await client.post(f"/api/repos/{repo.id}/cards", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def _titles(client: httpx.AsyncClient, repo: Repo, status: str) -> list[str]:
    cards = (await client.get(f"/api/repos/{repo.id}/cards", params={"status": status})).json()
    return [c["title"] for c in cards]


async def test_new_cards_go_to_the_bottom_of_todo(client: httpx.AsyncClient, repo: Repo) -> None:
    first = await _card(client, repo, "First", description="Do it", priority=3)
    second = await _card(client, repo, "  Second  ")
    assert (first["status"], first["position"], first["priority"], first["description"]) == (
        "todo",
        0,
        3,
        "Do it",
    )
    assert (second["title"], second["position"], second["priority"]) == ("Second", 1, 1)
    assert first["branch_name"] is None and first["job_id"] is None and first["pr_url"] is None
    assert await _titles(client, repo, "todo") == ["First", "Second"]


async def test_bad_card_input_is_refused_and_nothing_is_added(client: httpx.AsyncClient, repo: Repo) -> None:
    for body, fragment in [
        ({"title": "   "}, "title: String should have at least 1 character"),
        ({"title": "x" * 201}, "title: String should have at most 200 characters"),
        ({"title": "ok", "priority": 9}, "priority: Input should be less than or equal to 3"),
        ({"title": "ok", "status": "done"}, "status: Extra inputs are not permitted"),
    ]:
        response = await client.post(f"/api/repos/{repo.id}/cards", json=body)
        assert response.status_code == 422
        assert fragment in response.json()["detail"]
    assert (await client.get(f"/api/repos/{repo.id}/cards")).json() == []


async def test_cards_of_unknown_repo_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/api/repos/{uuid.uuid4()}/cards", json={"title": "t"})
    assert response.status_code == 404 and "No repo with id" in response.json()["detail"]


async def test_edit_title_description_priority(client: httpx.AsyncClient, repo: Repo) -> None:
    card = await _card(client, repo, "Old")
    response = await client.patch(
        f"/api/cards/{card['id']}", json={"title": "New", "description": "d", "priority": 0}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["priority"], body["status"]) == ("New", "d", 0, "todo")
    assert (await client.get(f"/api/cards/{card['id']}")).json() == {**body, "waiting_reason": None}


async def test_reorder_within_a_column(client: httpx.AsyncClient, repo: Repo) -> None:
    cards = [await _card(client, repo, t) for t in "ABCD"]
    response = await client.patch(f"/api/cards/{cards[3]['id']}", json={"position": 0})
    assert response.json()["position"] == 0
    assert await _titles(client, repo, "todo") == ["D", "A", "B", "C"]
    await client.patch(f"/api/cards/{cards[3]['id']}", json={"position": 99})
    assert await _titles(client, repo, "todo") == ["A", "B", "C", "D"]
    await client.patch(f"/api/cards/{cards[0]['id']}", json={"position": 2})
    listed = (await client.get(f"/api/repos/{repo.id}/cards", params={"status": "todo"})).json()
    assert [(c["title"], c["position"]) for c in listed] == [("B", 0), ("C", 1), ("A", 2), ("D", 3)]


async def test_reject_moves_a_reviewed_card_back_to_todo_at_the_chosen_place(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo
) -> None:
    await _card(client, repo, "A")
    await _card(client, repo, "B")
    async with app.state.sessionmaker() as session:
        reviewed = await make_card(
            session, repo=repo, title="R", status=CardStatus.IN_REVIEW, branch_name="lazyaf/x"
        )
        await make_card(session, repo=repo, title="R2", status=CardStatus.IN_REVIEW, position=1)
        await session.commit()
    response = await client.patch(f"/api/cards/{reviewed.id}", json={"status": "todo", "position": 1})
    assert response.status_code == 200
    assert response.json()["status"] == "todo" and response.json()["branch_name"] == "lazyaf/x"
    assert await _titles(client, repo, "todo") == ["A", "R", "B"]
    remaining = (await client.get(f"/api/repos/{repo.id}/cards", params={"status": "in_review"})).json()
    assert [(c["title"], c["position"]) for c in remaining] == [("R2", 0)]


@pytest.mark.parametrize(
    ("current", "target", "reason"),
    [
        (
            "todo",
            "in_progress",
            "Repo 'board' has no commits on its default branch 'main' yet; push to it first (lazyaf ingest).",
        ),
        ("todo", "done", "Only a card in review can become done; it needs an agent's work to review first."),
        (
            "todo",
            "in_review",
            "A card moves to in_review only when its agent job has finished and pushed its branch.",
        ),
        (
            "in_review",
            "done",
            "A card in review becomes done only when it is approved and its branch merged.",
        ),
        (
            "in_progress",
            "todo",
            "The card's agent is still working on it; wait for it to finish or cancel its job first.",
        ),
        ("done", "todo", "Done cards are merged and final; create a new card for more work."),
        ("failed", "in_progress", "Repo 'board' has no commits on its default branch 'main' yet; push to it first (lazyaf ingest)."),
        ("in_review", "failed", "Only a failed job moves a card to failed."),
    ],
)
async def test_moves_the_state_does_not_allow_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo, current: str, target: str, reason: str
) -> None:
    async with app.state.sessionmaker() as session:
        card = await make_card(session, repo=repo, title="C", status=CardStatus(current))
        await session.commit()
    before = (await client.get(f"/api/cards/{card.id}")).json()
    response = await client.patch(f"/api/cards/{card.id}", json={"status": target, "title": "changed"})
    assert response.status_code == 409
    prefix = "" if reason.startswith("Repo") else f"Card 'C' is {current}: "
    assert response.json() == {"detail": prefix + reason, "code": "invalid_transition"}
    assert (await client.get(f"/api/cards/{card.id}")).json() == before


async def test_search_and_filter(client: httpx.AsyncClient, repo: Repo) -> None:
    await _card(client, repo, "Add login page", description="OAuth")
    await _card(client, repo, "Fix 100% CPU", description="busy loop")
    await _card(client, repo, "Docs")
    found = (await client.get(f"/api/repos/{repo.id}/cards", params={"q": "LOGIN"})).json()
    assert [c["title"] for c in found] == ["Add login page"]
    found = (await client.get(f"/api/repos/{repo.id}/cards", params={"q": "100%"})).json()
    assert [c["title"] for c in found] == ["Fix 100% CPU"]
    found = (await client.get(f"/api/repos/{repo.id}/cards", params={"q": "busy"})).json()
    assert [c["title"] for c in found] == ["Fix 100% CPU"]
    response = await client.get(f"/api/repos/{repo.id}/cards", params={"status": "bogus"})
    assert response.status_code == 422 and "status" in response.json()["detail"]


async def test_delete_closes_the_gap(client: httpx.AsyncClient, repo: Repo) -> None:
    cards = [await _card(client, repo, t) for t in "ABC"]
    assert (await client.delete(f"/api/cards/{cards[0]['id']}")).status_code == 204
    listed = (await client.get(f"/api/repos/{repo.id}/cards")).json()
    assert [(c["title"], c["position"]) for c in listed] == [("B", 0), ("C", 1)]
    response = await client.get(f"/api/cards/{cards[0]['id']}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"No card with id {cards[0]['id']}; it may have been deleted."
