"""The gate, attacked: who may give commands, and what in a comment is not one. Every refusal runs
nothing (no command, no job, no reaction, no comment) and the delivery says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.settings import Settings
from tests.github.commands_support import (
    comment_payload,
    count,
    deliver,
    deliveries,
    drain,
    link_for_commands,
)
from tests.github.conftest import Setup, push_commits


@pytest.fixture
async def world(api: httpx.AsyncClient, setup: Setup, settings: Settings, tmp_path: Path) -> dict[str, Any]:
    setup.fake.add_user("octocat")
    repo = await link_for_commands(api, setup, allowed=("octocat",))
    push_commits(settings, repo, tmp_path)
    issue = setup.fake.add_issue(setup.repo, "Add a greeting", user="octocat")
    return {"repo": repo, "issue": issue}


async def _refused(api: httpx.AsyncClient, app: FastAPI, settings: Settings, payload: dict[str, Any]) -> str:
    before = {t: count(settings, t) for t in ("github_command", "job", "github_outbox")}
    assert (await deliver(api, payload, "issue_comment")).status_code == 202
    await drain(app)
    (found,) = await deliveries(api)
    assert found["status"] == "ignored" and found["command_id"] is None, found
    assert {t: count(settings, t) for t in before} == before  # nothing ran, nothing was written
    reason: str = found["reason"]
    return reason


async def test_someone_not_on_the_allowlist_runs_nothing(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, world: dict[str, Any]
) -> None:
    comment = setup.fake.add_comment(world["issue"], "@lazyaf plan", user="mallory")
    reason = await _refused(api, app, settings, comment_payload(comment))
    assert "@mallory" in reason and "not on the allowlist" in reason
    assert comment.reactions == []


async def test_a_renamed_account_taking_an_allowed_login_runs_nothing(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, world: dict[str, Any]
) -> None:
    """The allowlist holds octocat's id: another account that now carries the login is someone else."""
    payload = comment_payload(setup.fake.add_comment(world["issue"], "@lazyaf plan", user="octocat"))
    payload["comment"]["user"]["id"] = 987654321
    reason = await _refused(api, app, settings, payload)
    assert "@octocat (id 987654321)" in reason


async def test_a_bot_runs_nothing_unless_it_is_an_allowed_bot(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, world: dict[str, Any]
) -> None:
    setup.fake.add_user("helper[bot]", type="Bot")
    bot_comment = setup.fake.add_comment(world["issue"], "@lazyaf plan", user="helper[bot]")
    reason = await _refused(api, app, settings, comment_payload(bot_comment))
    assert "@helper[bot] is a bot not in allowed_bots" in reason
    # Allowed as a person? No: bots go in allowed_bots, people in allowed_users.
    repo = world["repo"]
    refused = await api.put(
        f"/api/repos/{repo['id']}/github",
        json={"owner": "octo-org", "name": "hello-world", "allowed_users": ["octocat", "helper[bot]"]},
    )
    assert refused.status_code == 422 and "bots go in allowed_bots" in refused.json()["detail"]
    assert (await api.get(f"/api/repos/{repo['id']}/github")).json()["commands"]["allowed_users"] == [
        {"login": "octocat", "id": setup.fake.users["octocat"].id}
    ]
    ok = await api.put(
        f"/api/repos/{repo['id']}/github",
        json={"owner": "octo-org", "name": "hello-world", "allowed_bots": ["helper[bot]"]},
    )
    assert ok.status_code == 200, ok.text
    # A person's account whose login looks like a bot's gets nothing from it: bots are matched by type and id.
    payload = comment_payload(setup.fake.add_comment(world["issue"], "@lazyaf status", user="helper[bot]"))
    payload["comment"]["user"].update(type="User", id=424242)
    assert (await deliver(api, payload, "issue_comment")).status_code == 202
    await drain(app)
    assert "not on the allowlist" in (await deliveries(api))[0]["reason"]
    # The allowed bot itself is heard.
    await deliver(
        api,
        comment_payload(setup.fake.add_comment(world["issue"], "@lazyaf status", user="helper[bot]")),
        "issue_comment",
    )
    await drain(app)
    assert (await deliveries(api))[0]["status"] == "accepted"


BODIES = {
    "a quoted line": "> @lazyaf plan\n\nI agree with the above.",
    "a code block": "Try:\n\n```\n@lazyaf plan\n```",
    "inline code": "Comment `@lazyaf plan` to start.",
    "an HTML comment": "Nice.<!-- @lazyaf plan -->",
    "a longer word": "@lazyafx plan",
    "LazyAF's own comment": (
        "**LazyAF** · `plan` asked by @octocat\n\n@lazyaf plan\n\n<!-- lazyaf:progress command=x -->"
    ),
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_what_is_not_a_command_runs_nothing(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, world: dict[str, Any], body: str
) -> None:
    reason = await _refused(
        api, app, settings, comment_payload(setup.fake.add_comment(world["issue"], body, user="octocat"))
    )
    assert "No @lazyaf command" in reason or "LazyAF's own comment" in reason


async def test_require_write_asks_github_for_the_authors_permission(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, world: dict[str, Any]
) -> None:
    repo = world["repo"]
    setup.fake.add_user("reader")
    response = await api.put(
        f"/api/repos/{repo['id']}/github",
        json={
            "owner": "octo-org",
            "name": "hello-world",
            "allowed_users": ["octocat", "reader"],
            "require_write": True,
        },
    )
    assert response.status_code == 200 and response.json()["commands"]["require_write"] is True
    reason = await _refused(
        api,
        app,
        settings,
        comment_payload(setup.fake.add_comment(world["issue"], "@lazyaf plan", user="reader")),
    )
    assert "@reader has read permission" in reason
    setup.repo.collaborators["octocat"] = "write"
    await deliver(
        api,
        comment_payload(setup.fake.add_comment(world["issue"], "@lazyaf status", user="octocat")),
        "issue_comment",
    )
    await drain(app)
    assert (await deliveries(api))[0]["status"] == "accepted"
    assert len(setup.fake.calls("repos/get-collaborator-permission-level")) == 2


async def test_commands_off_runs_nothing_and_a_replay_after_the_fix_runs_once(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings, world: dict[str, Any]
) -> None:
    setup.fake.add_user("newcomer")
    comment = setup.fake.add_comment(world["issue"], "@lazyaf status", user="newcomer")
    reason = await _refused(api, app, settings, comment_payload(comment))
    assert "not on the allowlist" in reason
    (delivery,) = await deliveries(api)
    repo = world["repo"]
    await api.put(
        f"/api/repos/{repo['id']}/github",
        json={"owner": "octo-org", "name": "hello-world", "allowed_users": ["octocat", "newcomer"]},
    )
    replayed = await api.post(f"/api/github/deliveries/{delivery['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "queued"
    await drain(app)
    assert (await api.get(f"/api/github/deliveries/{delivery['id']}")).json()["status"] == "accepted"
    again = await api.post(f"/api/github/deliveries/{delivery['id']}/replay")
    assert again.status_code == 200
    await drain(app)
    after = (await api.get(f"/api/github/deliveries/{delivery['id']}")).json()
    assert after["status"] == "ignored" and "Already handled" in after["reason"]
    assert count(settings, "github_command") == 1
    missing = await api.post("/api/github/deliveries/00000000-0000-0000-0000-000000000000/replay")
    assert missing.status_code == 404 and "GET /api/github/deliveries" in missing.json()["detail"]

    await api.put(
        f"/api/repos/{repo['id']}/github",
        json={"owner": "octo-org", "name": "hello-world", "commands_enabled": False},
    )
    reason = await _refused_again(
        api,
        app,
        settings,
        comment_payload(setup.fake.add_comment(world["issue"], "@lazyaf plan", user="octocat")),
    )
    assert "Commands are off" in reason


async def _refused_again(
    api: httpx.AsyncClient, app: FastAPI, settings: Settings, payload: dict[str, Any]
) -> str:
    before = count(settings, "github_command")
    await deliver(api, payload, "issue_comment")
    await drain(app)
    latest = (await deliveries(api))[0]
    assert latest["status"] == "ignored" and count(settings, "github_command") == before
    reason: str = latest["reason"]
    return reason


async def test_an_unknown_login_on_the_allowlist_is_a_clear_422_and_nothing_changes(
    api: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    repo = world["repo"]
    before = (await api.get(f"/api/repos/{repo['id']}/github")).json()
    response = await api.put(
        f"/api/repos/{repo['id']}/github",
        json={
            "owner": "octo-org",
            "name": "hello-world",
            "allowed_users": ["octocat", "no-such-person"],
            "trigger_phrase": "@bot",
        },
    )
    assert (
        response.status_code == 422 and "GitHub has no account 'no-such-person'" in response.json()["detail"]
    )
    assert (await api.get(f"/api/repos/{repo['id']}/github")).json() == before
