"""/api/work-orders: a work order is a card and its run; bad input is refused and nothing is left.

The runs here wait in the queue (no runner): what a work order shows while it runs, how it is
listed and filtered, and every refusal. A work order run to its end by real runners is in
test_live.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from tests.boundary.support import raw_client, snapshot
from tests.gitutil import git, make_source_repo


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="shop"))
        await session.commit()
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


async def _order(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/work-orders", json={"repo": "shop", "prompt": "Add a --version flag", **body}
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def test_a_work_order_is_a_card_and_its_run(client: httpx.AsyncClient, repo: Repo) -> None:
    prompt = "Add a --version flag\n\nPrint the package version and exit 0."
    order = await _order(client, prompt=prompt, workflow="plan_build")

    assert order["repo"] == "shop" and order["repo_id"] == str(repo.id)
    assert order["title"] == "Add a --version flag"  # the prompt's first line
    assert order["workflow"] == "plan_build" and order["status"] == "running" and order["phase"] == "plan"
    assert order["card_status"] == "in_progress" and order["review_plan"] is False
    assert [(s["position"], s["kind"], s["status"]) for s in order["steps"]] == [
        (0, "plan", "running"),
        (1, "build", "pending"),
        (2, "verify", "pending"),
    ]
    card = (await client.get(f"/api/cards/{order['card_id']}")).json()
    assert card["description"] == prompt and card["status"] == "in_progress"
    assert order["branch"] == card["branch_name"]
    (run,) = (await client.get(f"/api/cards/{order['card_id']}/runs")).json()
    assert run["id"] == order["id"]  # the work order's id is its run's
    assert order["steps"][0]["job_id"] == card["job_id"]
    assert (await client.get(f"/api/work-orders/{order['id']}")).json() == order
    assert (await client.get(f"/api/work-orders/{order['id']}/steps")).json() == order["steps"]


async def test_the_repo_is_named_or_given_by_id_and_the_default_workflow_runs(
    client: httpx.AsyncClient, repo: Repo
) -> None:
    by_id = await _order(client, repo=str(repo.id), title="Say hello", review_plan=True, workflow="plan")
    assert by_id["title"] == "Say hello" and by_id["review_plan"] is True
    default = await _order(client)
    assert default["workflow"] == "build"  # the repo names no default: build
    assert [s["kind"] for s in default["steps"]] == ["build", "verify"]
    await client.patch(f"/api/repos/{repo.id}", json={"name": "store", "default_workflow": "plan_build"})
    renamed = await _order(client, repo="shop")  # the name it had: an alias until reused
    assert renamed["repo"] == "store" and renamed["workflow"] == "plan_build"


async def test_work_orders_are_listed_newest_first_and_filtered(
    client: httpx.AsyncClient, repo: Repo, settings: Settings, app: FastAPI, tmp_path: Path
) -> None:
    first = await _order(client, prompt="First")
    second = await _order(client, prompt="Second")
    assert (await client.post(f"/api/jobs/{second['steps'][0]['job_id']}/cancel")).status_code == 200
    other = (await client.post("/api/repos", json={"name": "other"})).json()
    source = make_source_repo(tmp_path / "other-src")
    git("push", "-q", str(settings.git_repos_dir / f"{other['id']}.git"), "main", cwd=source)
    third = await _order(client, repo="other", prompt="Third")

    listed = await client.get("/api/work-orders")
    assert [o["id"] for o in listed.json()] == [third["id"], second["id"], first["id"]]
    assert listed.headers["X-Total-Count"] == "3"
    shop = (await client.get("/api/work-orders", params={"repo": "shop"})).json()
    assert [o["id"] for o in shop] == [second["id"], first["id"]]
    cancelled = (await client.get("/api/work-orders", params={"status": "cancelled"})).json()
    assert [(o["id"], o["status"], o["card_status"]) for o in cancelled] == [
        (second["id"], "cancelled", "todo")
    ]
    page = await client.get("/api/work-orders", params={"limit": 1, "offset": 1})
    assert [o["id"] for o in page.json()] == [second["id"]] and page.headers["X-Total-Count"] == "3"
    by_card = (await client.get("/api/work-orders", params={"card": first["card_id"]})).json()
    assert [o["id"] for o in by_card] == [first["id"]]


async def test_logs_and_git_progress_of_a_work_order_that_has_not_run_yet(
    client: httpx.AsyncClient, repo: Repo
) -> None:
    order = await _order(client, workflow="plan_build")
    logs = (await client.get(f"/api/work-orders/{order['id']}/logs")).json()
    assert logs == {"events": [], "next_after": 0, "status": "running"}
    progress = (await client.get(f"/api/work-orders/{order['id']}/git-progress")).json()
    assert progress["branch"] == order["branch"] and progress["head_sha"] is None  # nothing pushed yet
    assert (progress["commits"], progress["files_changed"]) == (0, 0)
    assert [s["kind"] for s in progress["steps"]] == ["plan", "build", "verify"]


# --- refusals: a sentence, and nothing created ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"repo": "nope"}, 422, "No repo named 'nope' (or with that id); the repos are: shop."),
        ({"repo": str(uuid.uuid4())}, 422, "(or with that id); the repos are: shop."),
        ({"workflow": "deploy"}, 422, "Unknown workflow 'deploy'; the workflows are: build, "),
        ({"prompt": "   \n "}, 422, "say what the agent should do; the prompt is empty"),
        ({"prompt": ""}, 422, "say what the agent should do"),
        ({"prompt": "nul\x00here"}, 422, "must not contain control characters"),
        ({"title": "two\nlines"}, 422, "must be one line"),
        ({"surprise": 1}, 422, "surprise: Extra inputs are not permitted"),
        ({"repo": None}, 422, "repo:"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_created(
    client: httpx.AsyncClient, repo: Repo, settings: Settings, body: dict[str, Any], status: int, words: str
) -> None:
    before = snapshot(settings)
    response = await client.post("/api/work-orders", json={"repo": "shop", "prompt": "Do it", **body})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert snapshot(settings) == before


async def test_a_refused_start_leaves_no_card_behind(
    client: httpx.AsyncClient, settings: Settings, repo: Repo
) -> None:
    empty = (await client.post("/api/repos", json={"name": "empty"})).json()
    before = snapshot(settings)
    response = await client.post("/api/work-orders", json={"repo": "empty", "prompt": "Do it"})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Repo 'empty' has no commits on its default branch 'main' yet; push to it first (lazyaf ingest)."
    )
    assert snapshot(settings) == before
    assert (await client.get(f"/api/repos/{empty['id']}/cards")).json() == []


async def test_a_start_no_runner_could_make_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings, repo: Repo
) -> None:
    settings.anthropic_api_key = None  # no credential for Claude Code
    before = snapshot(settings)
    response = await client.post("/api/work-orders", json={"repo": "shop", "prompt": "Do it"})
    assert response.status_code == 409, response.text
    assert "Claude Code" in response.json()["detail"]
    assert snapshot(settings) == before


async def test_an_unknown_work_order_and_an_unknown_repo_filter(
    client: httpx.AsyncClient, repo: Repo
) -> None:
    missing = uuid.uuid4()
    for path in ("", "/steps", "/git-progress", "/logs"):
        response = await client.get(f"/api/work-orders/{missing}{path}")
        assert response.status_code == 404
        assert (
            response.json()["detail"]
            == f"No work order with id {missing}; list them with GET /api/work-orders."
        )
    response = await client.get("/api/work-orders", params={"repo": "nope"})
    assert response.status_code == 422 and "No repo named 'nope'" in response.json()["detail"]
    response = await client.get("/api/work-orders", params={"status": "bogus"})
    assert response.status_code == 422


async def test_another_web_page_and_a_foreign_host_cannot_create_one(
    app: FastAPI, settings: Settings, repo: Repo
) -> None:
    body = {"repo": "shop", "prompt": "Planted by a web page"}
    async with app.router.lifespan_context(app):
        async for raw in raw_client(app):
            before = snapshot(settings)
            for headers in (
                {"Origin": "https://evil.example"},
                {"Sec-Fetch-Site": "cross-site"},
                {"Origin": "null"},
            ):
                refused = await raw.post("/api/work-orders", json=body, headers=headers)
                assert refused.status_code == 403 and refused.json()["code"] == "cross_origin"
            rebound = await raw.post("/api/work-orders", json=body, headers={"Host": "evil.example"})
            assert rebound.status_code == 400 and rebound.json()["code"] == "host_not_allowed"
            listed = await raw.get("/api/work-orders", headers={"Host": "evil.example"})
            assert listed.status_code == 400
            assert snapshot(settings) == before
            # The control: the board's own request creates it.
            made = await raw.post("/api/work-orders", json=body, headers={"Origin": "http://localhost"})
            assert made.status_code == 201, made.text
