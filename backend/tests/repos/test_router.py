"""The /api/repos endpoints."""

from __future__ import annotations

import httpx

from lazyaf.settings import Settings


async def test_create_repo_makes_row_and_bare_repo(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post("/api/repos", json={"name": "demo"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "demo" and body["default_branch"] == "main" and body["is_ingested"] is False
    assert body["clone_url"] == f"http://test/git/{body['id']}.git"
    assert (settings.git_repos_dir / f"{body['id']}.git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    listed = (await client.get("/api/repos")).json()
    assert [r["name"] for r in listed] == ["demo"]


async def test_duplicate_name_is_refused_and_nothing_is_added(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.post("/api/repos", json={"name": "demo"})
    response = await client.post("/api/repos/ingest", json={"name": "demo"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A repo named 'demo' already exists; pick another name or delete that repo first.",
        "code": "conflict",
    }
    assert len((await client.get("/api/repos")).json()) == 1
    assert len(list(settings.git_repos_dir.iterdir())) == 1
