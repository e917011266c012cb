"""A fake GitHub with a settable clock, and LazyAF's client wired to it in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_testkit.clock import FakeClock
from lazyaf_testkit.github import FakeGitHub
from lazyaf_testkit.github.git import GitRemote
from lazyaf_testkit.github.state import Repo

from lazyaf.git import store
from lazyaf.github.client import GitHubClient
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo
from tests.openapi_check import OpenAPIChecker

OWNER, NAME = "octo-org", "hello-world"


@dataclass
class Setup:
    fake: FakeGitHub
    clock: FakeClock
    repo: Repo
    token: str

    def client(self, token: str | None = None, **kwargs: object) -> GitHubClient:
        return GitHubClient(
            token or self.token,
            clock=self.clock,
            sleep=self.clock.sleep,
            transport=self.fake.transport(),
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
def setup() -> Iterator[Setup]:
    clock = FakeClock()
    fake = FakeGitHub(clock=clock)
    repo = fake.add_repo("octo-org/hello-world", collaborators={"lazyaf-bot": "write", "reader": "read"})
    yield Setup(fake=fake, clock=clock, repo=repo, token=fake.add_token("lazyaf-bot"))
    fake.assert_clean()  # 0 unknown operations, 0 schema violations


@pytest.fixture
async def client(setup: Setup) -> AsyncIterator[GitHubClient]:
    async with setup.client() as client:
        yield client


# --- LazyAF's app wired to the fake GitHub (API tests) ------------------------------------------


@pytest.fixture
def git_remote(tmp_path: Path, setup: Setup) -> Iterator[GitRemote]:
    """GitHub's git endpoint for octo-org/hello-world, wanting ``setup.token`` as the password."""
    remote = GitRemote(tmp_path / "github-git", setup.token)
    with remote.serve():
        remote.add_repo("octo-org/hello-world")
        yield remote


@pytest.fixture
async def api(app: FastAPI, openapi: OpenAPIChecker, setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    """LazyAF's API (responses checked against its OpenAPI document), its GitHub client talking to
    the fake in-process on the fake clock; nothing runs by itself (tests run the outbox and poller)."""
    service = app.state.github
    service.background = False
    service.clients.transport = setup.fake.transport()
    service.clients.clock = setup.clock
    service.clients.sleep = setup.clock.sleep

    async def check(response: httpx.Response) -> None:
        await response.aread()
        openapi.check(response)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", event_hooks={"response": [check]}
        ) as c:
            yield c


async def linked_repo(
    api: httpx.AsyncClient, setup: Setup, *, name: str = "hello", **link: object
) -> dict[str, Any]:
    """A LazyAF repo linked to octo-org/hello-world with the bot's token."""
    repo: dict[str, Any] = (await api.post("/api/repos", json={"name": name})).json()
    body = {"owner": OWNER, "name": NAME, "token": setup.token, **link}
    response = await api.put(f"/api/repos/{repo['id']}/github", json=body)
    assert response.status_code == 200, response.text
    return repo


async def set_rule(api: httpx.AsyncClient, repo: dict[str, Any], **rule: object) -> dict[str, Any]:
    response = await api.put(f"/api/repos/{repo['id']}/github/sync", json=rule)
    assert response.status_code == 200, response.text
    link: dict[str, Any] = response.json()
    return link


async def sync_now(api: httpx.AsyncClient, repo: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(f"/api/repos/{repo['id']}/github/sync/run")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def cards(api: httpx.AsyncClient, repo: dict[str, Any], **params: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.get(f"/api/repos/{repo['id']}/cards", params=params)).json()
    return found


def push_commits(settings: Settings, repo: dict[str, Any], tmp_path: Path, *branches: str) -> Path:
    """Give the LazyAF repo a main branch (and ``branches``, each one commit ahead), as a push would."""
    source = make_source_repo(tmp_path / f"source-{repo['name']}", commits=2)
    for branch in branches:
        git("checkout", "-q", "-b", branch, "main", cwd=source)
        (source / f"{branch.replace('/', '-')}.txt").write_text(f"work on {branch}\n")
        git("add", ".", cwd=source)
        git("commit", "-q", "-m", f"Work on {branch}", cwd=source)
    bare = store.repo_path(settings.git_repos_dir, uuid.UUID(repo["id"]))
    git("push", "-q", str(bare), "main", *branches, cwd=source)
    return source
