"""GET /api/agents, and the check every way of queueing agent work makes first: a start, a retry,
a request for changes, the PATCH that starts a card. Without a credential any runner could use,
each is a 409 saying what to do, and nothing changes (no job, the card where it was, comments
still open). Runners report the kind of credential they have in their hello: that counts too.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_protocol import credentials
from lazyaf_protocol import messages as protocol
from sqlalchemy import func, select

from lazyaf.agents import service
from lazyaf.cards.models import Card, CardStatus, Comment
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, wait_until
from tests.gitutil import git, make_source_repo
from tests.jobs.conftest import ingest, new_card
from tests.runners.fakerunner import FakeRunner, registered, registration_token

HOUR_MS = 3_600_000


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
        await session.commit()
    source = make_source_repo(tmp_path / "src")
    git("push", "-q", str(repo_service.git_path(settings, repo)), "main", cwd=source)
    return repo


def _write_login(home: Path, oauth: dict[str, Any]) -> Path:
    path = home / ".claude" / credentials.LOGIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({credentials.OAUTH_ENTRY: oauth, "mcpOAuth": {"s": {"accessToken": "m" * 20}}})
    )
    return path


@pytest.fixture
def bare(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """A server with no model credential anywhere: none set, none in its environment, no login."""
    settings.anthropic_api_key = None
    for name in (*credentials.MODEL_CREDENTIAL_VARIABLES, "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    return settings


def _agent(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in body["agents"] if a["name"] == name)
    return found


async def test_each_agent_says_whether_it_can_run_and_with_what_kind_never_the_value(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    response = await client.get("/api/agents")

    assert response.status_code == 200 and key and key not in response.text
    body = response.json()
    assert body["default_agent"] == "claude"
    assert _agent(body, "claude") == {
        "name": "claude",
        "default": True,
        "ready": True,
        "needs_credential": True,
        "problem": None,
        "credential": {
            "kind": "server_key",
            "found_on": "server",
            "runner": None,
            "variable": None,
            "path": None,
            "expires_at": None,
            "expired": False,
        },
    }
    # The command agent needs no credential from LazyAF, only its command line.
    assert _agent(body, "command") == {
        "name": "command",
        "default": False,
        "ready": False,
        "needs_credential": False,
        "credential": None,
        "problem": service.NO_COMMAND,
    }
    settings.agent_command = "aider --message-file {prompt_file}"
    assert _agent((await client.get("/api/agents")).json(), "command")["ready"] is True


async def test_the_server_token_comes_before_the_environment_and_a_login(
    client: httpx.AsyncClient, bare: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "sk-ant-oat01-" + secrets.token_urlsafe(30)
    _write_login(
        Path(os.environ["HOME"]),
        {"accessToken": "sk-ant-oat01-" + "a" * 30, "expiresAt": credentials.now_ms() + HOUR_MS},
    )
    kinds = []
    for step in ("login", "environment", "server_oauth_token"):
        if step == "environment":
            monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "gateway-" + "b" * 30)
        if step == "server_oauth_token":
            bare.claude_code_oauth_token = token  # type: ignore[assignment]
        response = await client.get("/api/agents")
        claude = _agent(response.json(), "claude")
        kinds.append((claude["credential"]["kind"], claude["credential"]["variable"]))
        assert token not in response.text and "a" * 30 not in response.text and "b" * 30 not in response.text
    assert kinds == [
        ("claude_login", None),
        ("environment", "ANTHROPIC_AUTH_TOKEN"),
        ("server_oauth_token", None),
    ]


async def test_a_login_reports_its_expiry_and_one_that_cannot_be_refreshed_is_not_usable(
    client: httpx.AsyncClient, bare: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "claude-config"  # $CLAUDE_CONFIG_DIR wins over ~/.claude
    config.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    expires = 1_900_000_000_000
    path = config / credentials.LOGIN_FILE
    path.write_text(
        json.dumps(
            {
                credentials.OAUTH_ENTRY: {
                    "accessToken": "x" * 40,
                    "refreshToken": "y" * 40,
                    "expiresAt": expires,
                }
            }
        )
    )

    claude = _agent((await client.get("/api/agents")).json(), "claude")
    assert claude["ready"] and claude["credential"]["path"] == str(path)
    assert (
        claude["credential"]["expires_at"] == "2030-03-17T17:46:40Z" and not claude["credential"]["expired"]
    )

    past = credentials.now_ms() - HOUR_MS
    path.write_text(json.dumps({credentials.OAUTH_ENTRY: {"accessToken": "x" * 40, "expiresAt": past}}))
    claude = _agent((await client.get("/api/agents")).json(), "claude")
    source = f"the Claude Code login in {path}"
    assert (claude["ready"], claude["problem"]) == (False, credentials.expired(source, past))
    assert claude["problem"].startswith(f"The Claude Code login in {path} expired at ")

    path.write_text("{not json")  # a damaged file is no login
    assert _agent((await client.get("/api/agents")).json(), "claude")["problem"] == credentials.NO_CREDENTIAL


async def _count(app: FastAPI, model: Any, **where: Any) -> int:
    async with app.state.sessionmaker() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(query) or 0)


async def test_every_way_of_queueing_work_is_refused_without_a_credential_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, repo: Repo
) -> None:
    key = settings.anthropic_api_key
    todo = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Todo"})).json()
    failed = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Failed"})).json()
    review = (await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Review"})).json()
    # With the key: a failed card (its job failed) and one in review with an open comment.
    jobs = {}
    for card in (failed, review):
        response = await client.post(f"/api/cards/{card['id']}/start")
        assert response.status_code == 201, response.text
        jobs[card["id"]] = response.json()
    async with app.state.sessionmaker() as session:
        for card_id, status in ((failed["id"], CardStatus.FAILED), (review["id"], CardStatus.IN_REVIEW)):
            card = await session.get(Card, uuid.UUID(card_id))
            job = await session.get(Job, uuid.UUID(jobs[card_id]["id"]))
            assert card is not None and job is not None
            card.status, job.status, job.error = status, JobStatus.FAILED, "It broke."
        await session.commit()
    bare = repo_service.git_path(settings, repo)
    git("update-ref", f"refs/heads/{jobs[review['id']]['branch']}", "main", cwd=bare)
    comment = await client.post(f"/api/cards/{review['id']}/comments", json={"body": "Say hello louder."})
    assert comment.status_code == 201, comment.text

    settings.anthropic_api_key = None
    before = [(await client.get(f"/api/cards/{c['id']}")).json() for c in (todo, failed, review)]
    attempts = [
        ("POST", f"/api/cards/{todo['id']}/start", None),
        ("PATCH", f"/api/cards/{todo['id']}", {"status": "in_progress", "title": "Renamed"}),
        ("POST", f"/api/cards/{failed['id']}/retry", None),
        ("PATCH", f"/api/cards/{failed['id']}", {"status": "in_progress"}),
        ("POST", f"/api/cards/{review['id']}/request-changes", {}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body)
        assert response.status_code == 409, (path, response.text)
        assert response.json() == {"detail": credentials.NO_CREDENTIAL, "code": "no_credential"}, path

    after = [(await client.get(f"/api/cards/{c['id']}")).json() for c in (todo, failed, review)]
    assert after == before
    assert await _count(app, Job) == 2
    assert await _count(app, Comment, job_id=None) == 1  # the comment is still open

    # The check is per agent: a retry with the command agent, once it has a command, goes ahead.
    settings.agent_command = "true"
    response = await client.post(f"/api/cards/{failed['id']}/retry", json={"agent": "command"})
    assert response.status_code == 201, response.text
    settings.anthropic_api_key = key


def test_a_runner_that_reports_its_own_credential_makes_claude_ready(
    live: LiveServer, bare: Settings
) -> None:
    assert _agent(httpx.get(live.api("/agents")).json(), "claude")["ready"] is False
    found = protocol.FoundCredential(kind="claude_login", expires_at=1_900_000_000_000)

    runner = FakeRunner(live, registration_token(live), name="laptop", credentials={"claude": found})
    runner.welcome()
    try:
        claude = _agent(httpx.get(live.api("/agents")).json(), "claude")
        assert claude["ready"] and claude["problem"] is None
        assert claude["credential"] == {
            "kind": "claude_login",
            "found_on": "runner",
            "runner": "laptop",
            "variable": None,
            "path": None,
            "expires_at": "2030-03-17T17:46:40Z",
            "expired": False,
        }
    finally:
        runner.close()
    # Once it is gone, nothing can run Claude Code again.
    wait_until(lambda: _agent(httpx.get(live.api("/agents")).json(), "claude")["ready"] is False)


def test_a_runner_without_its_own_gets_this_machines_login_access_token_only(
    live: LiveServer, bare: Settings, tmp_path: Path
) -> None:
    access, refresh = "sk-ant-oat01-" + secrets.token_urlsafe(30), "sk-ant-ort01-" + secrets.token_urlsafe(30)
    expires = credentials.now_ms() + HOUR_MS
    _write_login(
        Path(os.environ["HOME"]),
        {"accessToken": access, "refreshToken": refresh, "expiresAt": expires, "scopes": ["user:inference"]},
    )
    repo = ingest(live, tmp_path)
    card = new_card(live, repo)
    assert httpx.post(live.api(f"/cards/{card['id']}/start")).status_code == 201

    runner, _ = registered(live, "container")  # reports no credential of its own, as a Docker runner
    try:
        assign = runner.claim()
    finally:
        runner.close()
    assert assign.credential is not None and assign.credential.kind == "claude_login"
    assert assign.credential.env == {} and assign.credential.login == {
        "accessToken": access,
        "expiresAt": expires,
        "scopes": ["user:inference"],
    }
    assert refresh not in assign.model_dump_json() and "mcpOAuth" not in assign.model_dump_json()
    assert "ANTHROPIC_API_KEY" not in assign.env and "CLAUDE_CODE_OAUTH_TOKEN" not in assign.env


def test_a_runner_with_its_own_credential_is_sent_none_of_this_machines(
    live: LiveServer, bare: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + secrets.token_urlsafe(30))
    repo = ingest(live, tmp_path)
    card = new_card(live, repo)
    assert httpx.post(live.api(f"/cards/{card['id']}/start")).status_code == 201
    own = {"claude": protocol.FoundCredential(kind="environment")}
    runner = FakeRunner(live, registration_token(live), name="own", credentials=own)
    runner.welcome()
    try:
        assign = runner.claim()
    finally:
        runner.close()
    assert assign.credential is None


def test_a_runner_without_its_own_gets_a_key_of_the_servers_environment(
    live: LiveServer, bare: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-ant-api03-" + secrets.token_urlsafe(30)
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    repo = ingest(live, tmp_path)
    card = new_card(live, repo)
    assert httpx.post(live.api(f"/cards/{card['id']}/start")).status_code == 201

    runner, _ = registered(live, "container")
    try:
        assign = runner.claim()
    finally:
        runner.close()
    assert assign.credential is not None
    assert (assign.credential.kind, assign.credential.env, assign.credential.login) == (
        "environment",
        {"ANTHROPIC_API_KEY": key},
        None,
    )
    assert key not in json.dumps(assign.env)
