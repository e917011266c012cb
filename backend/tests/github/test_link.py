"""Linking a repo: the token stays sealed and unseen; verification says what to fix; bad input is refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from lazyaf_testkit.github.git import GitRemote
from sqlalchemy import text

from lazyaf.github.models import GitHubLink
from lazyaf.secretbox import rotate
from lazyaf.settings import Settings
from tests.github.conftest import NAME, OWNER, Setup, cards, linked_repo, set_rule, sync_now


async def test_link_read_has_token_but_never_the_token(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI, settings: Settings
) -> None:
    repo = await linked_repo(api, setup, webhook_secret="whsec-very-secret-123")

    response = await api.get(f"/api/repos/{repo['id']}/github")

    link = response.json()
    assert link["has_token"] is True and link["has_webhook_secret"] is True
    assert (link["owner"], link["name"], link["on_approve"]) == (OWNER, NAME, "merge")
    assert link["api_url"] == "https://api.github.com"
    assert link["git_url"] == "https://github.com/octo-org/hello-world.git"
    assert link["html_url"] == "https://github.com/octo-org/hello-world"
    assert setup.token not in response.text and "whsec-very-secret-123" not in response.text
    async with app.state.sessionmaker() as session:
        raw = (await session.execute(text("SELECT token, webhook_secret FROM github_link"))).one()
    assert all(value.startswith("fernet:") and setup.token not in value for value in raw)
    assert b"whsec-very-secret-123" not in (settings.data_dir / "lazyaf.db").read_bytes()


async def test_enterprise_links_derive_their_urls(api: httpx.AsyncClient, setup: Setup) -> None:
    repo: dict[str, Any] = (await api.post("/api/repos", json={"name": "ghe"})).json()
    body = {"owner": "team", "name": "app", "token": setup.token, "api_url": "https://ghe.example.com"}
    link = (await api.put(f"/api/repos/{repo['id']}/github", json=body)).json()
    assert link["api_url"] == "https://ghe.example.com/api/v3"
    assert link["git_url"] == "https://ghe.example.com/team/app.git"


async def test_relinking_keeps_the_token_when_none_is_given(api: httpx.AsyncClient, setup: Setup) -> None:
    repo = await linked_repo(api, setup)
    response = await api.put(
        f"/api/repos/{repo['id']}/github", json={"owner": OWNER, "name": NAME, "on_approve": "pull_request"}
    )
    assert response.status_code == 200
    assert response.json()["has_token"] is True and response.json()["on_approve"] == "pull_request"


async def test_bad_link_input_is_refused_and_nothing_is_stored(api: httpx.AsyncClient, setup: Setup) -> None:
    repo: dict[str, Any] = (await api.post("/api/repos", json={"name": "bad"})).json()
    url = f"/api/repos/{repo['id']}/github"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"owner": OWNER, "name": NAME}, "needs a token with write access"),
        ({"owner": "has space", "name": NAME, "token": "t"}, "owner"),
        ({"owner": OWNER, "name": "a/b", "token": "t"}, "name"),
        ({"owner": OWNER, "name": NAME, "token": "two words"}, "single word"),
        (
            {"owner": OWNER, "name": NAME, "token": "t", "git_url": "https://x:tok@github.com/a/b.git"},
            "credentials",
        ),
        ({"owner": OWNER, "name": NAME, "token": "t", "api_url": "ftp://example.com"}, "http"),
        ({"owner": OWNER, "name": NAME, "token": "t", "on_approve": "deploy"}, "on_approve"),
    ]
    for body, words in cases:
        response = await api.put(url, json=body)
        assert response.status_code == 422 and words in response.json()["detail"], (body, response.text)
        assert "tok@" not in response.text
    assert (await api.get(url)).status_code == 404


async def test_unlink_removes_the_token_and_keeps_the_cards(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI
) -> None:
    setup.fake.add_issue(setup.repo, "Kept")
    repo = await linked_repo(api, setup)
    await set_rule(api, repo)
    await sync_now(api, repo)

    assert (await api.delete(f"/api/repos/{repo['id']}/github")).status_code == 204

    assert (await api.get(f"/api/repos/{repo['id']}/github")).status_code == 404
    (card,) = await cards(api, repo)
    assert card["github_issue_number"] == 1 and card["github_url"]
    async with app.state.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM github_link"))).scalar() == 0


async def test_verify_reports_login_permission_branch_and_quota(
    api: httpx.AsyncClient, setup: Setup, git_remote: GitRemote
) -> None:
    repo = await linked_repo(api, setup, git_url=f"{git_remote.url}/octo-org/hello-world.git")

    answer = (await api.post(f"/api/repos/{repo['id']}/github/verify")).json()

    assert answer == {
        "ok": True,
        "login": "lazyaf-bot",
        "permission": "write",
        "default_branch": "main",
        "rate_limit_remaining": answer["rate_limit_remaining"],
        "error": None,
    }
    assert 0 < answer["rate_limit_remaining"] < 5000
    assert git_remote.auth and all(ok for _, ok in git_remote.auth)  # git ls-remote carried the token
    link = (await api.get(f"/api/repos/{repo['id']}/github")).json()
    assert link["verify"] == answer and link["verified_at"] and link["rate_limit"]["limit"] == 5000


async def test_verify_says_what_to_fix(api: httpx.AsyncClient, setup: Setup, git_remote: GitRemote) -> None:
    reader = setup.fake.add_token("reader")
    git_url = f"{git_remote.url}/octo-org/hello-world.git"
    cases = [
        ({"token": reader}, "has read access to octo-org/hello-world; LazyAF needs write access"),
        ({"name": "no-such-repo"}, "has no repository octo-org/no-such-repo"),
        ({"git_url": f"{git_remote.url}/octo-org/missing.git"}, "No git repository at"),
        ({"git_url": "http://127.0.0.1:9/octo-org/hello-world.git"}, "Cannot reach http://127.0.0.1:9"),
    ]
    for i, (change, words) in enumerate(cases):
        repo: dict[str, Any] = (await api.post("/api/repos", json={"name": f"verify-{i}"})).json()
        body = {"owner": OWNER, "name": NAME, "token": setup.token, "git_url": git_url, **change}
        await api.put(f"/api/repos/{repo['id']}/github", json=body)
        answer = (await api.post(f"/api/repos/{repo['id']}/github/verify")).json()
        assert answer["ok"] is False and words in answer["error"], (change, answer)
        link = (await api.get(f"/api/repos/{repo['id']}/github")).json()
        assert link["last_error"] == answer["error"]


async def test_verify_with_a_revoked_token_says_to_link_again(
    api: httpx.AsyncClient, setup: Setup, git_remote: GitRemote
) -> None:
    repo = await linked_repo(api, setup, git_url=f"{git_remote.url}/octo-org/hello-world.git")
    setup.fake.revoke(setup.token)
    answer = (await api.post(f"/api/repos/{repo['id']}/github/verify")).json()
    assert (
        answer["ok"] is False
        and "revoked" in answer["error"]
        and "link the repository again" in answer["error"]
    )


async def test_a_wrong_token_for_git_alone_is_reported(
    api: httpx.AsyncClient, setup: Setup, git_remote: GitRemote
) -> None:
    repo = await linked_repo(api, setup, git_url=f"{git_remote.url}/octo-org/hello-world.git")
    git_remote.token = "another-token"  # the git host no longer takes this token
    answer = (await api.post(f"/api/repos/{repo['id']}/github/verify")).json()
    assert answer["ok"] is False and "refused the token" in answer["error"]
    assert setup.token not in answer["error"]


async def test_rotation_keeps_every_secret_readable(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI
) -> None:
    setup.fake.add_issue(setup.repo, "After rotation")
    repo = await linked_repo(api, setup, webhook_secret="whsec-rotate-me")
    await set_rule(api, repo)
    store = app.state.secrets
    before = store.keyring().primary_id

    report = await rotate(store, app.state.sessionmaker)

    assert report.rotated == 2 and report.key_id != before and report.retired == [before]
    async with app.state.sessionmaker() as session:
        link = (await session.execute(text("SELECT id FROM github_link"))).scalar()
        row = await session.get(GitHubLink, uuid.UUID(str(link)) if not isinstance(link, uuid.UUID) else link)
        assert row is not None and row.token is not None and row.webhook_secret is not None
        assert row.token.key_id == row.webhook_secret.key_id == report.key_id
        assert store.keyring().open(row.token) == setup.token
        assert store.keyring().open(row.webhook_secret) == "whsec-rotate-me"
    assert (await sync_now(api, repo))["created"] == 1  # the rotated token still talks to GitHub


async def test_github_routes_need_the_token_off_loopback(app: FastAPI, settings: Settings) -> None:
    settings.token = "server-token"  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://localhost") as c,
    ):
        repo_id = uuid.uuid4()
        for method, path in (
            ("PUT", f"/api/repos/{repo_id}/github"),
            ("GET", f"/api/repos/{repo_id}/github"),
            ("POST", f"/api/repos/{repo_id}/github/verify"),
            ("POST", f"/api/repos/{repo_id}/github/sync/run"),
            ("POST", f"/api/cards/{repo_id}/pull-request"),
        ):
            response = await c.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.status_code)


async def test_deleting_the_repo_deletes_its_link_issues_and_writes(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI
) -> None:
    setup.fake.add_issue(setup.repo, "Goes with the repo")
    repo = await linked_repo(api, setup)
    await set_rule(api, repo)
    await sync_now(api, repo)

    assert (await api.delete(f"/api/repos/{repo['id']}")).status_code == 204

    async with app.state.sessionmaker() as session:
        for table in ("github_link", "github_issue", "github_outbox", "card"):
            assert (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar() == 0, table
