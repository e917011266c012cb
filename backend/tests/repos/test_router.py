"""The /api/repos endpoints (the git protocol itself is tested in tests/gitserver)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI

from lazyaf.repos.models import Repo
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo, rev


async def _create(client: httpx.AsyncClient, name: str = "demo", **fields: object) -> dict[str, object]:
    response = await client.post("/api/repos", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _bare(settings: Settings, repo: dict[str, object]) -> Path:
    return settings.git_repos_dir / f"{repo['id']}.git"


async def test_create_repo_makes_row_and_bare_repo(client: httpx.AsyncClient, settings: Settings) -> None:
    body = await _create(client, remote_url="git@github.com:me/demo.git", default_branch="dev")
    assert body["name"] == "demo" and body["default_branch"] == "dev" and body["is_ingested"] is False
    assert body["remote_url"] == "git@github.com:me/demo.git"
    assert body["clone_url"] == "http://localhost/git/demo.git"
    assert (_bare(settings, body) / "HEAD").read_text() == "ref: refs/heads/dev\n"
    listed = (await client.get("/api/repos")).json()
    assert [r["name"] for r in listed] == ["demo"]


async def test_ingest_creates_the_same_way(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post("/api/repos/ingest", json={"name": "ingested"})
    assert response.status_code == 201
    assert _bare(settings, response.json()).is_dir()


async def test_duplicate_name_is_refused_and_nothing_is_added(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await _create(client)
    response = await client.post("/api/repos/ingest", json={"name": "demo"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A repo named 'demo' already exists; pick another name or delete that repo first.",
        "code": "conflict",
    }
    assert len((await client.get("/api/repos")).json()) == 1
    assert len(list(settings.git_repos_dir.iterdir())) == 1


async def test_bad_name_and_branch_are_refused_and_nothing_is_added(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for body, fragment in [
        ({"name": "has space"}, "name: String should match pattern"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"name": "ok", "default_branch": "bad..branch"}, "'bad..branch' is not a valid git branch name"),
        ({"name": "ok", "surprise": 1}, "surprise: Extra inputs are not permitted"),
        # A name is the last part of its clone URL (/git/<name>.git).
        ({"name": "a/b"}, "name: String should match pattern"),
        ({"name": "-flag"}, "name: String should match pattern"),
        ({"name": "a%2Fb"}, "name: String should match pattern"),
        ({"name": "caf\u00e9"}, "name: String should match pattern"),
        ({"name": str(uuid.uuid4())}, "looks like a repo id; pick a name with letters that is not one"),
        ({"name": uuid.uuid4().hex}, "looks like a repo id"),
        ({"name": "demo.git"}, "ends in .git, which the clone URL adds itself; drop the .git"),
        ({"name": "demo.GIT"}, "ends in .git"),
    ]:
        response = await client.post("/api/repos", json=body)
        assert response.status_code == 422
        assert fragment in response.json()["detail"]
        assert response.json()["code"] == "invalid_input"
    assert (await client.get("/api/repos")).json() == []
    assert list(settings.git_repos_dir.iterdir()) == []


async def test_unknown_and_malformed_repo_ids(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    response = await client.get(f"/api/repos/{missing}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"No repo with id {missing}; list repos with GET /api/repos."
    response = await client.get("/api/repos/not-a-uuid")
    assert response.status_code == 422
    assert "repo_id" in response.json()["detail"]


async def test_get_and_clone_url(client: httpx.AsyncClient) -> None:
    repo = await _create(client)
    assert (await client.get(f"/api/repos/{repo['id']}")).json() == repo
    response = await client.get(f"/api/repos/{repo['id']}/clone-url")
    assert response.json() == {
        "url": "http://localhost/git/demo.git",
        "id_url": f"http://localhost/git/{repo['id']}.git",
        "repo_id": repo["id"],
    }


async def test_public_url_setting_shapes_clone_urls(settings: Settings) -> None:
    from lazyaf.main import create_app

    settings.public_url = "https://lazyaf.example.com/"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            repo = (await c.post("/api/repos", json={"name": "pub"})).json()
    assert repo["clone_url"] == "https://lazyaf.example.com/git/pub.git"


async def test_delete_removes_row_cards_and_bare_repo(client: httpx.AsyncClient, settings: Settings) -> None:
    repo = await _create(client)
    card = (await client.post(f"/api/repos/{repo['id']}/cards", json={"title": "t"})).json()
    response = await client.delete(f"/api/repos/{repo['id']}")
    assert response.status_code == 204
    assert not _bare(settings, repo).exists()
    assert list(settings.git_repos_dir.iterdir()) == []
    assert (await client.get(f"/api/cards/{card['id']}")).status_code == 404
    assert (await client.delete(f"/api/repos/{repo['id']}")).status_code == 404


async def test_rename_and_set_remote(client: httpx.AsyncClient) -> None:
    repo = await _create(client)
    await _create(client, name="other")
    response = await client.patch(
        f"/api/repos/{repo['id']}", json={"name": "renamed", "remote_url": "/srv/x.git"}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "renamed" and response.json()["remote_url"] == "/srv/x.git"
    response = await client.patch(f"/api/repos/{repo['id']}", json={"name": "other"})
    assert response.status_code == 409
    assert (await client.get(f"/api/repos/{repo['id']}")).json()["name"] == "renamed"
    response = await client.patch(f"/api/repos/{repo['id']}", json={"name": "renamed.git"})
    assert response.status_code == 422 and "ends in .git" in response.json()["detail"]
    assert (await client.get(f"/api/repos/{repo['id']}")).json()["name"] == "renamed"


def _push_local(source: Path, bare: Path, *refspecs: str) -> None:
    git("push", "-q", str(bare), *refspecs, cwd=source)


async def test_branches_and_commits(client: httpx.AsyncClient, settings: Settings, tmp_path: Path) -> None:
    repo = await _create(client)
    source = make_source_repo(tmp_path / "src", commits=3)
    git("checkout", "-q", "-b", "feature/é", cwd=source)
    (source / "f.txt").write_text("x\n")
    git("add", ".", cwd=source)
    git("commit", "-q", "-m", "Feature", cwd=source)
    _push_local(source, _bare(settings, repo), "refs/heads/*:refs/heads/*")

    branches = (await client.get(f"/api/repos/{repo['id']}/branches")).json()
    assert branches == [
        {"name": "feature/é", "sha": rev(source, "feature/é"), "is_default": False},
        {"name": "main", "sha": rev(source, "main"), "is_default": True},
    ]
    commits = (await client.get(f"/api/repos/{repo['id']}/commits")).json()
    assert [c["summary"] for c in commits] == ["Commit 2", "Commit 1", "Commit 0"]
    assert commits[0]["message"] == "Commit 2\n\nBody of commit 2.\n"
    assert commits[0]["parents"] == [commits[1]["sha"]] and commits[2]["parents"] == []
    assert (
        commits[0]["author_email"] == "author@example.com"
        and commits[0]["committer_name"] == "Test Committer"
    )
    feature = (
        await client.get(f"/api/repos/{repo['id']}/commits", params={"branch": "feature/é", "limit": 2})
    ).json()
    assert [c["summary"] for c in feature] == ["Feature", "Commit 2"]
    page = (await client.get(f"/api/repos/{repo['id']}/commits", params={"offset": 1, "limit": 1})).json()
    assert [c["summary"] for c in page] == ["Commit 1"]


async def test_commits_of_missing_branch_is_404(client: httpx.AsyncClient) -> None:
    repo = await _create(client)
    assert (await client.get(f"/api/repos/{repo['id']}/commits")).json() == []
    response = await client.get(f"/api/repos/{repo['id']}/commits", params={"branch": "nope"})
    assert response.status_code == 404
    assert response.json()["detail"] == "Branch 'nope' does not exist in repo 'demo'."


async def test_default_branch_must_exist_once_ingested(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    repo = await _create(client)
    source = make_source_repo(tmp_path / "src")
    git("branch", "dev", cwd=source)
    _push_local(source, _bare(settings, repo), "main", "dev")
    async with app.state.sessionmaker() as session:
        row = await session.get(Repo, uuid.UUID(str(repo["id"])))
        assert row is not None
        row.is_ingested = True
        await session.commit()
    response = await client.patch(f"/api/repos/{repo['id']}", json={"default_branch": "nope"})
    assert response.status_code == 422
    assert (
        response.json()["detail"]
        == "Branch 'nope' does not exist in repo 'demo'; existing branches: dev, main."
    )
    assert (_bare(settings, repo) / "HEAD").read_text() == "ref: refs/heads/main\n"
    response = await client.patch(f"/api/repos/{repo['id']}", json={"default_branch": "dev"})
    assert response.json()["default_branch"] == "dev"
    assert (_bare(settings, repo) / "HEAD").read_text() == "ref: refs/heads/dev\n"


async def test_a_repo_sets_and_clears_its_own_stall_limits(client: httpx.AsyncClient) -> None:
    repo = await _create(client)
    assert (repo["stall_after_s"], repo["kill_after_s"]) == (None, None)  # the server's settings apply
    response = await client.patch(
        f"/api/repos/{repo['id']}", json={"stall_after_s": 120, "kill_after_s": 300}
    )
    assert response.status_code == 200
    assert (response.json()["stall_after_s"], response.json()["kill_after_s"]) == (120, 300)
    response = await client.patch(f"/api/repos/{repo['id']}", json={"kill_after_s": None})
    assert (response.json()["stall_after_s"], response.json()["kill_after_s"]) == (120, None)


async def test_stall_limits_that_kill_before_the_stall_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.stall_after_s, settings.kill_after_s = 600, 1200
    repo = await _create(client)
    await client.patch(f"/api/repos/{repo['id']}", json={"stall_after_s": 100, "kill_after_s": 200})
    for body, detail in [
        (
            {"kill_after_s": 100},
            "kill_after_s (100) must be more than stall_after_s (100): an agent is marked stalled before it "
            "is killed; raise kill_after_s or lower stall_after_s.",
        ),
        (
            # Clearing the repo's stall mark brings back the server's 600 s, after its own kill.
            {"stall_after_s": None},
            "kill_after_s (200) must be more than stall_after_s (600): an agent is marked stalled before it "
            "is killed; raise kill_after_s or lower stall_after_s.",
        ),
    ]:
        response = await client.patch(f"/api/repos/{repo['id']}", json={**body, "name": "renamed"})
        assert response.status_code == 422
        assert response.json() == {"detail": detail, "code": "invalid_input"}
    for body in (
        {"stall_after_s": 0},
        {"kill_after_s": -5},
        {"stall_after_s": 10**9},
        {"kill_after_s": "soon"},
    ):
        response = await client.patch(f"/api/repos/{repo['id']}", json=body)
        assert response.status_code == 422 and "after_s" in response.json()["detail"]
    after = (await client.get(f"/api/repos/{repo['id']}")).json()
    assert (after["name"], after["stall_after_s"], after["kill_after_s"]) == ("demo", 100, 200)
