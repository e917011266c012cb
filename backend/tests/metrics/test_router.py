"""GET /api/metrics: bad input answered with a sentence, and the route held to the web boundary."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.repos.models import Repo
from tests.factories import make_repo


@pytest.fixture
async def raw(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def _repo(app: FastAPI, name: str) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await make_repo(session, name=name)
        await session.commit()
    return repo


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"days": 0}, "Invalid request: days: Input should be greater than or equal to 1."),
        ({"days": 366}, "Invalid request: days: Input should be less than or equal to 365."),
        ({"days": "a week"}, "Invalid request: days: Input should be a valid integer"),
        ({"repo": ""}, "Invalid request: repo: String should have at least 1 character."),
        ({"tz": "Mars/Olympus_Mons"}, "There is no time zone called 'Mars/Olympus_Mons'; send an IANA name"),
        ({"tz": "../../../etc/passwd"}, "There is no time zone called '../../../etc/passwd'"),
        ({"tz": "/etc/localtime"}, "There is no time zone called '/etc/localtime'"),
    ],
)
async def test_bad_parameters_are_answered_with_what_to_send(
    client: httpx.AsyncClient, params: dict[str, object], sentence: str
) -> None:
    response = await client.get("/api/metrics", params=params)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert response.json()["detail"].startswith(sentence)


async def test_an_unknown_repo_is_a_404_that_says_where_to_look(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await _repo(app, "known")
    for ref in ("unknown", "0b4a3c5e-0000-4000-8000-000000000000"):
        response = await client.get("/api/metrics", params={"repo": ref})
        assert response.status_code == 404
        assert response.json() == {
            "detail": f"No repo has the id or name '{ref}'; list repos with GET /api/repos, or leave "
            "repo out for every repo.",
            "code": "not_found",
        }
    assert (await client.get("/api/metrics", params={"repo": "known"})).status_code == 200


async def test_a_renamed_repo_answers_to_its_old_name(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/repos", json={"name": "before"})).json()
    assert (await client.patch(f"/api/repos/{created['id']}", json={"name": "after"})).status_code == 200
    for ref in ("before", "after", created["id"]):
        answer = await client.get("/api/metrics", params={"repo": ref, "days": 7})
        assert answer.status_code == 200
        assert answer.json()["repo_id"] == created["id"]
        assert len(answer.json()["per_day"]) == 7


async def test_another_web_page_cannot_read_the_metrics(raw: httpx.AsyncClient, app: FastAPI) -> None:
    """A page elsewhere fetching /api/metrics (what Chromium sends) is refused before the route runs."""
    await _repo(app, "secret-project")
    foreign = [
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
        {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"},
    ]
    async with raw:
        for headers in foreign:
            response = await raw.get("/api/metrics", params={"repo": "secret-project"}, headers=headers)
            assert response.status_code == 403, headers
            assert response.json()["code"] == "cross_origin"
            assert "per_day" not in response.text and "access-control-allow-origin" not in response.headers
        # The board itself (same origin) and the CLI (no Origin) read them.
        own = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
        for headers in (own, {}):
            assert (await raw.get("/api/metrics", headers=headers)).status_code == 200


async def test_a_rebinding_host_cannot_read_the_metrics(raw: httpx.AsyncClient) -> None:
    """DNS rebinding: the attacker's name resolves to 127.0.0.1, so the request carries its Host."""
    async with raw:
        for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example"):
            response = await raw.get("/api/metrics", headers={"Host": host, "Sec-Fetch-Site": "same-origin"})
            assert response.status_code == 400, host
            assert response.json()["code"] == "host_not_allowed"
            assert "per_day" not in response.text
