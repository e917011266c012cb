"""The learnings API: write, list, accept, edit, retire, delete; a comment kept as a learning;
reviewers' verdicts from a card. Refusals say what to do and change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from lazyaf.cards.models import Comment
from lazyaf.events.models import BoardEvent
from lazyaf.learnings.models import Learning
from lazyaf.learnings.service import for_prompt


async def _repo(client: httpx.AsyncClient, name: str = "demo") -> dict[str, Any]:
    response = await client.post("/api/repos", json={"name": name})
    assert response.status_code == 201
    repo: dict[str, Any] = response.json()
    return repo


async def _card(client: httpx.AsyncClient, repo: dict[str, Any], title: str = "A card") -> dict[str, Any]:
    card: dict[str, Any] = (await client.post(f"/api/repos/{repo['id']}/cards", json={"title": title})).json()
    return card


async def _learning(client: httpx.AsyncClient, repo: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/repos/{repo['id']}/learnings", json={"text": "Use the fixtures.", **body}
    )
    assert response.status_code == 201, response.text
    learning: dict[str, Any] = response.json()
    return learning


async def _events(app: FastAPI, kind: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(BoardEvent).where(BoardEvent.type == kind).order_by(BoardEvent.seq)
        )
        return [r.data for r in rows]


async def test_a_person_writes_accepts_edits_retires_and_deletes_a_learning(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    repo = await _repo(client)
    written = await _learning(
        client, repo, text="  Run make fmt first.  ", paths=["./src/**", "src/**", "/tests"]
    )
    assert written["status"] == "accepted" and written["source"] == "person" and written["kind"] == "advice"
    assert written["text"] == "Run make fmt first." and written["paths"] == ["src/**", "tests"]
    assert written["decided_at"] is not None and (
        written["uses"],
        written["helpful"],
        written["harmful"],
    ) == (0, 0, 0)
    proposed = await _learning(client, repo, text="Maybe later.", status="proposed", kind="pitfall")
    assert proposed["status"] == "proposed" and proposed["decided_at"] is None

    listed = (await client.get(f"/api/repos/{repo['id']}/learnings")).json()
    assert {item["id"] for item in listed} == {written["id"], proposed["id"]}
    only = (await client.get(f"/api/repos/{repo['id']}/learnings", params={"status": "proposed"})).json()
    assert [item["id"] for item in only] == [proposed["id"]]

    response = await client.patch(
        f"/api/learnings/{proposed['id']}", json={"status": "accepted", "text": "Now."}
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["text"]) == ("accepted", "Now.")
    response = await client.patch(f"/api/learnings/{written['id']}", json={"status": "retired", "paths": []})
    assert (response.json()["status"], response.json()["paths"]) == ("retired", [])
    assert (await client.get(f"/api/learnings/{written['id']}")).json()["status"] == "retired"

    assert (await client.delete(f"/api/learnings/{written['id']}")).status_code == 204
    assert (await client.get(f"/api/learnings/{written['id']}")).status_code == 404
    updated = await _events(app, "learning_updated")
    assert [e["learning"]["status"] for e in updated] == ["accepted", "proposed", "accepted", "retired"]
    assert await _events(app, "learning_deleted") == [{"learning_id": written["id"], "repo_id": repo["id"]}]


async def _count(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Learning)) or 0)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": ""}, "text: String should have at least 1 character"),
        ({"text": "x" * 2001}, "text: String should have at most 2000 characters"),
        ({"text": "bell \x07"}, "must not contain control characters"),
        ({"text": "ok", "paths": ["../secrets/**"]}, "climbs out of the repository"),
        ({"text": "ok", "paths": ["-rf"]}, "starts with '-'"),
        ({"text": "ok", "paths": ["a\nb"]}, "must be one line"),
        ({"text": "ok", "paths": [f"d{i}" for i in range(21)]}, "paths: List should have at most 20 items"),
        (
            {"text": "ok", "kind": "spell"},
            "kind: Input should be 'advice', 'convention', 'pitfall' or 'command'",
        ),
        ({"text": "ok", "status": "retired"}, "status: Input should be 'accepted' or 'proposed'"),
        ({"text": "ok", "uses": 99}, "uses: Extra inputs are not permitted"),
    ],
)
async def test_a_bad_learning_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any], fragment: str
) -> None:
    repo = await _repo(client)
    response = await client.post(f"/api/repos/{repo['id']}/learnings", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert await _count(app) == 0


async def test_edits_that_say_nothing_or_repeat_another_learning_are_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    repo = await _repo(client)
    first = await _learning(client, repo, text="Use the fixtures.")
    second = await _learning(client, repo, text="Keep handlers thin.")
    response = await client.post(f"/api/repos/{repo['id']}/learnings", json={"text": "use  the FIXTURES."})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"This repo already has that learning (accepted, id {first['id']}); edit or accept that one."
    )
    response = await client.patch(f"/api/learnings/{second['id']}", json={"text": "Use the fixtures."})
    assert response.status_code == 409
    response = await client.patch(f"/api/learnings/{second['id']}", json={})
    assert response.status_code == 422
    assert (
        response.json()["detail"] == "Send at least one of status (accepted or retired), text, paths or kind."
    )
    response = await client.patch(f"/api/learnings/{second['id']}", json={"status": "proposed"})
    assert (
        response.status_code == 422
        and "status: Input should be 'accepted' or 'retired'" in response.json()["detail"]
    )
    assert (await client.get(f"/api/learnings/{second['id']}")).json()["text"] == "Keep handlers thin."
    assert await _count(app) == 2


async def test_unknown_repos_and_learnings_are_404(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    assert (await client.get(f"/api/repos/{missing}/learnings")).status_code == 404
    response = await client.patch(f"/api/learnings/{missing}", json={"status": "accepted"})
    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"No learning with id {missing}; list a repo's with GET /api/repos/{{id}}/learnings."
    )
    assert (await client.delete(f"/api/learnings/{missing}")).status_code == 404


async def _comment(app: FastAPI, card: dict[str, Any], body: str, file: str | None = None) -> uuid.UUID:
    async with app.state.sessionmaker() as session:
        comment = Comment(card_id=uuid.UUID(card["id"]), body=body, file=file, line=3 if file else None)
        session.add(comment)
        await session.commit()
        return comment.id


async def test_a_review_comment_is_kept_as_an_accepted_learning_about_its_file(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    repo = await _repo(client)
    card = await _card(client, repo)
    on_file = await _comment(app, card, "Never log the request body here.", file="src/api/handlers.py")
    general = await _comment(app, card, "Prefer small commits.")

    response = await client.post(f"/api/cards/{card['id']}/comments/{on_file}/learning", json={})
    assert response.status_code == 201
    kept = response.json()
    assert (kept["text"], kept["paths"], kept["status"], kept["source"]) == (
        "Never log the request body here.",
        ["src/api/handlers.py"],
        "accepted",
        "review",
    )
    assert (kept["card_id"], kept["comment_id"]) == (card["id"], str(on_file))
    response = await client.post(
        f"/api/cards/{card['id']}/comments/{general}/learning",
        json={"text": "Small commits, one concern each.", "paths": ["src/**"], "kind": "convention"},
    )
    assert (response.json()["paths"], response.json()["kind"]) == (["src/**"], "convention")

    other = await _card(client, repo, "Other")
    response = await client.post(f"/api/cards/{other['id']}/comments/{general}/learning", json={})
    assert (
        response.status_code == 404
        and response.json()["detail"] == f"Card {other['id']} has no comment {general}."
    )
    long = await _comment(app, card, "y" * 2500)
    response = await client.post(f"/api/cards/{card['id']}/comments/{long}/learning", json={})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "The comment is 2500 characters and a learning holds at most 2000; send a shorter text with it."
    )
    assert await _count(app) == 2


async def test_reviewers_mark_a_learning_helpful_or_harmful_once_per_card(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    repo = await _repo(client)
    card, other = await _card(client, repo), await _card(client, repo, "Other")
    learning = await _learning(client, repo)
    async with app.state.sessionmaker() as session:  # the card's prompt carried it
        await for_prompt(session, uuid.UUID(repo["id"]), [], card_id=uuid.UUID(card["id"]))
        await session.commit()

    url = f"/api/cards/{card['id']}/learnings/{learning['id']}/mark"
    marked = (await client.put(url, json={"verdict": "helpful"})).json()
    assert (marked["helpful"], marked["harmful"], marked["mark"], marked["card_uses"]) == (1, 0, "helpful", 1)
    marked = (await client.put(url, json={"verdict": "helpful"})).json()  # again: still one
    assert (marked["helpful"], marked["harmful"]) == (1, 0)
    marked = (await client.put(url, json={"verdict": "harmful"})).json()
    assert (marked["helpful"], marked["harmful"], marked["mark"]) == (0, 1, "harmful")
    other_mark = f"/api/cards/{other['id']}/learnings/{learning['id']}/mark"
    assert (await client.put(other_mark, json={"verdict": "harmful"})).json()["harmful"] == 2
    marked = (await client.put(url, json={"verdict": None})).json()
    assert (marked["helpful"], marked["harmful"], marked["mark"]) == (0, 1, None)

    seen = (await client.get(f"/api/cards/{card['id']}/learnings")).json()
    assert [(u["id"], u["card_uses"], u["mark"]) for u in seen["used"]] == [(learning["id"], 1, None)]
    assert seen["proposed"] == []

    elsewhere = await _learning(client, await _repo(client, "elsewhere"))
    response = await client.put(
        f"/api/cards/{card['id']}/learnings/{elsewhere['id']}/mark", json={"verdict": "helpful"}
    )
    assert response.status_code == 404
    assert (
        response.json()["detail"]
        == f"Learning {elsewhere['id']} belongs to another repo than card {card['id']}."
    )
    response = await client.put(url, json={"verdict": "great"})
    assert response.status_code == 422
