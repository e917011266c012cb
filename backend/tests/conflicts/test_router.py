"""The conflicts API and the repo's conflict policy, through the app with its lifespan (the watcher
runs), every answer checked against the OpenAPI document; and the routes attacked."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from lazyaf.cards.models import Card, CardStatus
from lazyaf.conflicts.models import ConflictPrediction
from lazyaf.events.models import BoardEvent
from lazyaf.main import create_app
from lazyaf.orchestration import announce
from lazyaf.repos.service import git_path
from lazyaf.runners.models import Runner, RunnerKind
from lazyaf.settings import Settings
from tests.conflicts.conftest import BASE, branch, edit
from tests.gitutil import Work


async def _eventually(check: Any, timeout: float = 20) -> None:
    """Wait for the background watcher (polling; not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the watcher did not get there"
        await asyncio.sleep(0.02)


async def _repo(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, name: str = "demo"
) -> tuple[dict[str, Any], Work]:
    repo = (await client.post("/api/repos/ingest", json={"name": name})).json()
    work = Work(tmp_path / f"work-{name}", git_path(settings, uuid.UUID(repo["id"])))
    work.commit(dict(BASE), "Base")
    work.push("main")
    return repo, work


async def _in_review(
    app: FastAPI, client: httpx.AsyncClient, repo: dict[str, Any], work: Work, title: str, line: str
) -> str:
    """A card in review on its own branch changing README.md's line 2; its change is announced the
    way the backend announces one (a card_updated event in the same transaction)."""
    card = (await client.post(f"/api/repos/{repo['id']}/cards", json={"title": title})).json()
    name = f"lazyaf/{card['id'][:8]}"
    branch(work, name, {"README.md": edit(BASE["README.md"], 2, line)})
    async with app.state.sessionmaker() as session:
        row = await session.get(Card, uuid.UUID(card["id"]))
        assert row is not None
        row.branch_name, row.status = name, CardStatus.IN_REVIEW
        await session.flush()
        announce.card_changed(session, row)
        await session.commit()
    return str(card["id"])


async def test_conflicts_of_a_card_and_of_a_repo(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    repo, work = await _repo(client, settings, tmp_path)
    a = await _in_review(app, client, repo, work, "Readme A", "by a")
    b = await _in_review(app, client, repo, work, "Readme B", "by b")

    async def both_seen() -> bool:
        return len((await client.get(f"/api/repos/{repo['id']}/conflicts")).json()["cards"]) == 2

    await _eventually(both_seen)
    listed = (await client.get(f"/api/cards/{a}/conflicts")).json()
    assert [(c["with"], c["with_title"], c["target"], c["files"], c["kind"]) for c in listed] == [
        (b, "Readme B", False, ["README.md"], "conflict")
    ]
    by_card = (await client.get(f"/api/repos/{repo['id']}/conflicts")).json()["cards"]
    assert by_card[a] == listed and by_card[b][0]["with"] == a
    async with app.state.sessionmaker() as session:
        events = (await session.scalars(select(BoardEvent).where(BoardEvent.type == "card_conflicts"))).all()
    assert {e.data["card_id"] for e in events} == {a, b}


async def test_unknown_cards_and_repos_are_404s(client: httpx.AsyncClient) -> None:
    nobody = uuid.uuid4()
    card = await client.get(f"/api/cards/{nobody}/conflicts")
    assert card.status_code == 404
    assert card.json() == {
        "detail": f"No card with id {nobody}; it may have been deleted.",
        "code": "not_found",
    }
    repo = await client.get(f"/api/repos/{nobody}/conflicts")
    assert repo.status_code == 404 and "GET /api/repos" in repo.json()["detail"]
    assert (await client.get("/api/cards/not-an-id/conflicts")).status_code == 422


async def test_a_card_without_predictions_has_an_empty_list(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    repo, _work = await _repo(client, settings, tmp_path)
    card = (await client.post(f"/api/repos/{repo['id']}/cards", json={"title": "Alone"})).json()
    assert (await client.get(f"/api/cards/{card['id']}/conflicts")).json() == []
    assert (await client.get(f"/api/repos/{repo['id']}/conflicts")).json() == {"cards": {}}


async def test_the_conflict_policy_is_a_repo_setting(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    repo, _work = await _repo(client, settings, tmp_path)
    assert repo["conflict_policy"] == "warn"
    held = await client.patch(f"/api/repos/{repo['id']}", json={"conflict_policy": "hold"})
    assert held.status_code == 200 and held.json()["conflict_policy"] == "hold"
    # Other changes leave it alone; null leaves it alone too.
    renamed = await client.patch(
        f"/api/repos/{repo['id']}", json={"name": "renamed", "conflict_policy": None}
    )
    assert renamed.json()["conflict_policy"] == "hold"


async def test_an_unknown_conflict_policy_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    repo, _work = await _repo(client, settings, tmp_path)
    refused = await client.patch(
        f"/api/repos/{repo['id']}", json={"conflict_policy": "block", "name": "other"}
    )
    assert refused.status_code == 422
    assert "conflict_policy" in refused.json()["detail"] and "'warn' or 'hold'" in refused.json()["detail"]
    after = (await client.get(f"/api/repos/{repo['id']}")).json()
    assert (after["conflict_policy"], after["name"]) == ("warn", "demo")


# --- attacks ------------------------------------------------------------------------------------


@pytest.fixture
async def planted(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> dict[str, str]:
    """A repo with two colliding cards, predicted."""
    repo, work = await _repo(client, settings, tmp_path)
    a = await _in_review(app, client, repo, work, "Readme A", "by a")
    await _in_review(app, client, repo, work, "Readme B", "by b")

    async def seen() -> bool:
        return bool((await client.get(f"/api/cards/{a}/conflicts")).json())

    await _eventually(seen)
    return {"repo": repo["id"], "card": a}


def _paths(ids: dict[str, str]) -> list[str]:
    return [f"/api/cards/{ids['card']}/conflicts", f"/api/repos/{ids['repo']}/conflicts"]


async def test_another_web_page_cannot_read_them(app: FastAPI, planted: dict[str, str]) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as raw:
        for path in _paths(planted):
            for headers in (
                {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Origin": "https://evil.example"},
                {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
            ):
                response = await raw.get(path, headers=headers)
                assert response.status_code == 403 and response.json()["code"] == "cross_origin"
                assert "README.md" not in response.text
            rebound = await raw.get(path, headers={"Host": "evil.example"})
            assert rebound.status_code == 400 and rebound.json()["code"] == "host_not_allowed"


async def test_a_runner_credential_cannot_read_them(app: FastAPI, planted: dict[str, str]) -> None:
    async with app.state.sessionmaker() as session:
        runner = Runner(name="r1", kind=RunnerKind.LOCAL)
        session.add(runner)
        await session.commit()
    secret = app.state.credentials.runner_secret(runner.id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as raw:
        for path in _paths(planted):
            response = await raw.get(path, headers={"Authorization": f"Bearer {secret}"})
            assert response.status_code == 403 and "README.md" not in response.text


async def test_off_loopback_they_need_the_token(settings: Settings) -> None:
    settings.token = "s3cret-token"  # type: ignore[assignment]
    settings.allowed_hosts = ["lazyaf"]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://lazyaf") as remote:
            async with app.state.sessionmaker() as session:
                ids = {"card": str(uuid.uuid4()), "repo": str(uuid.uuid4())}
                assert (await session.scalars(select(ConflictPrediction))).all() == []
            for path in _paths(ids):
                assert (await remote.get(path)).status_code == 401
                with_token = await remote.get(path, headers={"Authorization": "Bearer s3cret-token"})
                assert with_token.status_code == 404  # past the token: no such card or repo
