"""GET/PUT /api/limits and /api/repos/{id}/limits: any subset, null is no limit, a repo's own limits
over the global defaults; bad input answered with a sentence and nothing stored; other web pages
refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from tests.boundary.support import snapshot

NO_LIMITS = {
    "max_running": None,
    "max_running_per_repo": None,
    "daily_usd": None,
    "daily_agent_runs": None,
    "per_card_usd": None,
    "cooldown_s": None,
    "failure_cooldown_after": None,
}


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="demo"))
        await session.commit()
    return repo


async def test_no_limits_at_first_and_nothing_spent(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/limits")).json()
    assert body["limits"] == NO_LIMITS
    assert body["usage"] == {
        "spent_usd": 0,
        "agent_runs": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "running": 0,
    }
    assert body["repos"] == []
    assert body["day_started_at"] < body["resets_at"]


async def test_a_subset_changes_only_its_keys_and_null_removes_a_limit(client: httpx.AsyncClient) -> None:
    first = await client.put("/api/limits", json={"max_running": 2, "daily_usd": 20})
    assert first.status_code == 200, first.text
    assert first.json()["limits"] == {**NO_LIMITS, "max_running": 2, "daily_usd": 20.0}
    second = await client.put("/api/limits", json={"daily_usd": None, "per_card_usd": 1.5})
    assert second.json()["limits"] == {**NO_LIMITS, "max_running": 2, "per_card_usd": 1.5}
    assert (await client.get("/api/limits")).json()["limits"] == second.json()["limits"]


async def test_a_repo_has_limits_of_its_own_over_the_global_defaults(
    client: httpx.AsyncClient, repo: Repo
) -> None:
    await client.put(
        "/api/limits",
        json={"max_running_per_repo": 3, "per_card_usd": 2, "cooldown_s": 60, "failure_cooldown_after": 3},
    )
    response = await client.put(f"/api/repos/{repo.id}/limits", json={"max_running": 1, "daily_usd": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["repo_name"] == "demo"
    assert body["limits"] == {
        "max_running": 1,
        "daily_usd": 5.0,
        "daily_agent_runs": None,
        "per_card_usd": None,
        "cooldown_s": None,
        "failure_cooldown_after": None,
    }
    assert body["effective"] == {
        "max_running": 1,
        "max_running_key": "max_running",
        "daily_usd": 5.0,
        "daily_agent_runs": None,
        "per_card_usd": 2.0,
        "cooldown_s": 60,
        "failure_cooldown_after": 3,
    }
    # null: the repo has none of its own, the global default applies again.
    cleared = (await client.put(f"/api/repos/{repo.id}/limits", json={"max_running": None})).json()
    assert cleared["effective"]["max_running"] == 3
    assert cleared["effective"]["max_running_key"] == "max_running_per_repo"
    listed = (await client.get("/api/limits")).json()["repos"]
    assert [r["repo_name"] for r in listed] == ["demo"]
    assert (await client.get(f"/api/repos/{repo.id}/limits")).json() == cleared


BAD_GLOBAL: dict[str, tuple[Any, str]] = {
    "negative count": ({"max_running": -1}, "max_running: Input should be greater than or equal to 0"),
    "negative money": ({"daily_usd": -0.01}, "daily_usd: Input should be greater than or equal to 0"),
    "negative seconds": ({"cooldown_s": -5}, "cooldown_s: Input should be greater than or equal to 0"),
    "a streak of none": (
        {"failure_cooldown_after": 0, "cooldown_s": 10},
        "failure_cooldown_after: Input should be greater than or equal to 1",
    ),
    "money as text": ({"daily_usd": "20"}, "daily_usd: Input should be a valid number"),
    "a count as true": ({"max_running": True}, "max_running: Input should be a valid integer"),
    "a fraction of a run": ({"max_running": 1.5}, "max_running: Input should be a valid integer"),
    "unknown key": (
        {"max_runing": 2},
        "Unknown limit 'max_runing': the limits are max_running, max_running_per_repo, daily_usd, "
        "daily_agent_runs, per_card_usd, cooldown_s, failure_cooldown_after (null: no limit)",
    ),
    "a repo key": (
        {"repo": "demo", "max_running": 1},
        "set a repo's own limits with PUT /api/repos/{id}/limits",
    ),
    "not an object": ([1, 2], "Input should be a valid dictionary"),
    "a pause of no length": (
        {"failure_cooldown_after": 3},
        "failure_cooldown_after needs cooldown_s for the global limits",
    ),
}


@pytest.mark.parametrize(("body", "sentence"), BAD_GLOBAL.values(), ids=BAD_GLOBAL.keys())
async def test_bad_global_limits_are_refused_with_a_sentence_and_nothing_changes(
    client: httpx.AsyncClient, settings: Settings, body: Any, sentence: str
) -> None:
    await client.put("/api/limits", json={"max_running": 4})
    before = snapshot(settings)
    response = await client.put("/api/limits", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    detail = response.json()["detail"]
    assert sentence in detail and detail.endswith("."), detail
    assert snapshot(settings) == before
    assert (await client.get("/api/limits")).json()["limits"] == {**NO_LIMITS, "max_running": 4}


BAD_REPO: dict[str, tuple[Any, str]] = {
    "the global per-repo key": (
        {"max_running_per_repo": 1},
        "max_running_per_repo is a global limit; a repo's own cap on running attempts is max_running",
    ),
    "unknown key": ({"budget": 3}, "Unknown limit 'budget': the limits are max_running, daily_usd"),
    "negative": ({"per_card_usd": -1}, "per_card_usd: Input should be greater than or equal to 0"),
    "a pause of no length": (
        {"failure_cooldown_after": 2},
        "failure_cooldown_after needs cooldown_s for repo demo",
    ),
}


@pytest.mark.parametrize(("body", "sentence"), BAD_REPO.values(), ids=BAD_REPO.keys())
async def test_bad_repo_limits_are_refused_with_a_sentence_and_nothing_changes(
    client: httpx.AsyncClient, settings: Settings, repo: Repo, body: Any, sentence: str
) -> None:
    before = snapshot(settings)
    response = await client.put(f"/api/repos/{repo.id}/limits", json=body)
    assert response.status_code == 422, response.text
    assert sentence in response.json()["detail"], response.json()["detail"]
    assert snapshot(settings) == before


async def test_a_repo_pause_may_take_its_length_from_the_global_default(
    client: httpx.AsyncClient, repo: Repo
) -> None:
    await client.put("/api/limits", json={"cooldown_s": 120})
    response = await client.put(f"/api/repos/{repo.id}/limits", json={"failure_cooldown_after": 2})
    assert response.status_code == 200, response.text
    assert response.json()["effective"]["cooldown_s"] == 120


async def test_limits_of_a_repo_that_does_not_exist_are_a_404(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for response in (
        await client.get(f"/api/repos/{missing}/limits"),
        await client.put(f"/api/repos/{missing}/limits", json={"max_running": 1}),
        await client.get("/api/queue", params={"repo": missing}),
    ):
        assert response.status_code == 404
        assert "list repos with GET /api/repos" in response.json()["detail"]


async def test_another_web_page_cannot_change_the_limits(
    client: httpx.AsyncClient, settings: Settings, repo: Repo
) -> None:
    await client.put("/api/limits", json={"daily_usd": 20})
    before = snapshot(settings)
    for path in ("/api/limits", f"/api/repos/{repo.id}/limits"):
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "null"},
        ):
            response = await client.put(path, json={"max_running": 0, "daily_usd": None}, headers=headers)
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "cross_origin"
    assert snapshot(settings) == before
    assert (await client.get("/api/limits")).json()["limits"]["daily_usd"] == 20


async def test_a_remote_client_without_the_token_cannot_change_the_limits(
    app: FastAPI, settings: Settings
) -> None:
    settings.token = "s3cret-token-for-this-test"  # type: ignore[assignment]
    before = snapshot(settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as remote:
        response = await remote.put("/api/limits", json={"max_running": 0})
        assert response.status_code == 401
        with_token = await remote.put(
            "/api/limits",
            json={"max_running": 0},
            headers={"Authorization": "Bearer s3cret-token-for-this-test"},
        )
        assert with_token.status_code == 200, with_token.text
    assert snapshot(settings) != before  # the control: the same request with the token went through
