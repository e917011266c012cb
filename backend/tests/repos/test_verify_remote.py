"""POST /api/repos/{id}/verify-remote: real `git ls-remote` against real remotes.

A bare repo over file://, LazyAF's own git smart-HTTP (a live server), an empty one, a missing one,
an unreachable one and a refused transport. Remotes that want credentials are in
tests/github/test_verify_remote_auth.py (they need the GitHub link's token).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, free_port
from tests.boundary.support import raw_client, snapshot
from tests.gitutil import git, make_source_repo


async def _repo(client: httpx.AsyncClient, name: str = "demo", **fields: object) -> dict[str, Any]:
    response = await client.post("/api/repos", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _bare_with_branches(path: Path, head: str = "trunk") -> str:
    """A bare repo whose HEAD names ``head``, with two branches, a tag and a pull ref; its file URL."""
    source = make_source_repo(path.parent / f"{path.name}-src", commits=1, branch=head)
    git("init", "-q", "--bare", "-b", head, str(path))
    git("push", "-q", str(path), f"{head}:{head}", f"{head}:feature", f"{head}:refs/tags/v1", cwd=source)
    git("push", "-q", str(path), f"{head}:refs/pull/1/head", cwd=source)
    return f"file://{path}"


async def test_a_file_remote_answers_with_its_head_branch_and_branch_count(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    url = _bare_with_branches(tmp_path / "origin.git")
    repo = await _repo(client, remote_url=url)

    response = await client.post(f"/api/repos/{repo['id']}/verify-remote")

    assert response.status_code == 200, response.text
    # Tags and pull refs are not branches; HEAD names trunk, not the repo's own main.
    assert response.json() == {
        "ok": True,
        "url": url,
        "default_branch": "trunk",
        "branches": 2,
        "error": None,
    }


async def test_an_empty_remote_answers_without_a_default_branch(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    git("init", "-q", "--bare", "-b", "main", str(tmp_path / "empty.git"))
    repo = await _repo(client, remote_url=str(tmp_path / "empty.git"))  # a plain path works too

    answer = (await client.post(f"/api/repos/{repo['id']}/verify-remote")).json()

    assert answer == {
        "ok": True,
        "url": str(tmp_path / "empty.git"),
        "default_branch": None,
        "branches": 0,
        "error": None,
    }


async def test_another_url_is_checked_before_it_is_saved(client: httpx.AsyncClient, tmp_path: Path) -> None:
    url = _bare_with_branches(tmp_path / "candidate.git", head="main")
    repo = await _repo(client)

    answer = (await client.post(f"/api/repos/{repo['id']}/verify-remote", json={"remote_url": url})).json()

    assert answer["ok"] is True and answer["default_branch"] == "main" and answer["url"] == url
    assert (await client.get(f"/api/repos/{repo['id']}")).json()["remote_url"] is None  # nothing saved


async def test_credentials_typed_into_the_url_are_dropped_before_git_sees_it(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    port = free_port()
    repo = await _repo(client)
    body = {"remote_url": f"http://someone:s3cret-token@127.0.0.1:{port}/x.git"}

    answer = (await client.post(f"/api/repos/{repo['id']}/verify-remote", json=body)).json()

    assert answer["url"] == f"http://127.0.0.1:{port}/x.git"
    assert "s3cret-token" not in str(answer) and answer["ok"] is False


def test_lazyafs_own_git_server_answers_over_http(live: LiveServer, tmp_path: Path) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as http:
        served = http.post("/api/repos/ingest", json={"name": "served", "default_branch": "main"}).json()
        source = make_source_repo(tmp_path / "src", commits=2)
        git("push", "-q", served["clone_url"], "main", "main:other", cwd=source)
        url = f"{live.url}/git/served.git"
        repo = http.post("/api/repos", json={"name": "mirror", "remote_url": url}).json()

        # The git call runs in a worker thread: the same server answers git meanwhile.
        answer = http.post(f"/api/repos/{repo['id']}/verify-remote").json()

    assert answer == {"ok": True, "url": url, "default_branch": "main", "branches": 2, "error": None}


async def test_a_missing_repository_says_to_check_the_url(client: httpx.AsyncClient, tmp_path: Path) -> None:
    url = f"file://{tmp_path}/nowhere.git"
    repo = await _repo(client, remote_url=url)

    answer = (await client.post(f"/api/repos/{repo['id']}/verify-remote")).json()

    assert answer["ok"] is False and answer["default_branch"] is None
    assert answer["error"].startswith(f"No git repository at {url}")
    assert "check the remote URL in the repo's settings" in answer["error"]


async def test_an_unreachable_remote_says_so(client: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/team/app.git"  # nothing listens there
    repo = await _repo(client, remote_url=url)

    answer = (await client.post(f"/api/repos/{repo['id']}/verify-remote")).json()

    assert answer["ok"] is False
    assert answer["error"].startswith(f"Cannot reach {url}")
    assert "check the URL and the network" in answer["error"]


async def test_a_transport_that_runs_commands_is_refused(client: httpx.AsyncClient, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    repo = await _repo(client)
    body = {"remote_url": f"ext::sh -c touch% {planted}"}

    answer = (await client.post(f"/api/repos/{repo['id']}/verify-remote", json=body)).json()

    assert answer["ok"] is False
    assert "LazyAF checks only file, git, http(s) and ssh remotes" in answer["error"]
    assert not planted.exists()


async def test_a_repo_without_a_remote_is_told_how_to_set_one(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    repo = await _repo(client)

    response = await client.post(f"/api/repos/{repo['id']}/verify-remote")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Repo 'demo' has no remote to check; set its remote URL in the repo's settings "
        f"(PATCH /api/repos/{repo['id']} with remote_url), or send one as remote_url.",
        "code": "conflict",
    }


async def test_bad_bodies_are_refused(client: httpx.AsyncClient) -> None:
    repo = await _repo(client)
    for body, words in [
        ({"remote_url": "--upload-pack=touch /tmp/x"}, "must not start with '-'"),
        ({"remote_url": "http://a\nb"}, "single-line git URL"),
        ({"url": "file:///tmp"}, "url: Extra inputs are not permitted"),
    ]:
        response = await client.post(f"/api/repos/{repo['id']}/verify-remote", json=body)
        assert response.status_code == 422 and words in response.json()["detail"], (body, response.text)
    missing = await client.post("/api/repos/00000000-0000-0000-0000-000000000000/verify-remote")
    assert missing.status_code == 404


async def test_another_web_page_and_a_foreign_host_are_refused(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    url = _bare_with_branches(tmp_path / "origin.git")
    async with app.router.lifespan_context(app):
        async for raw in raw_client(app):
            repo = (await raw.post("/api/repos", json={"name": "demo", "remote_url": url})).json()
            before = snapshot(settings)
            path = f"/api/repos/{repo['id']}/verify-remote"
            foreign = await raw.post(path, headers={"Origin": "https://evil.example"})
            assert foreign.status_code == 403 and foreign.json()["code"] == "cross_origin"
            rebound = await raw.post(path, headers={"Host": "evil.example"})
            assert rebound.status_code == 400 and rebound.json()["code"] == "host_not_allowed"
            assert snapshot(settings) == before
            assert (await raw.post(path)).json()["ok"] is True  # the control: the board's own request
