"""Helpers for the command pipeline's tests: a repo linked to a fake GitHub repository with a webhook
secret and an allowlist, signed deliveries, and the worker driven by hand."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
from fastapi import FastAPI
from lazyaf_testkit.github.webhooks import signed_request

from lazyaf.settings import Settings
from tests.github.conftest import Setup

SECRET = "whsec-test-0123456789"


async def link_for_commands(
    api: httpx.AsyncClient,
    setup: Setup,
    *,
    full_name: str = "octo-org/hello-world",
    name: str = "hello",
    allowed: tuple[str, ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A LazyAF repo linked to ``full_name`` with the webhook secret and ``allowed`` on the allowlist."""
    owner, repo_name = full_name.split("/")
    repo: dict[str, Any] = (await api.post("/api/repos", json={"name": name})).json()
    body = {
        "owner": owner,
        "name": repo_name,
        "token": setup.token,
        "webhook_secret": SECRET,
        "allowed_users": list(allowed),
        **fields,
    }
    response = await api.put(f"/api/repos/{repo['id']}/github", json=body)
    assert response.status_code == 200, response.text
    repo["link"] = response.json()
    return repo


async def deliver(
    api: httpx.AsyncClient,
    payload: dict[str, Any] | bytes,
    event: str,
    *,
    secret: str = SECRET,
    **kwargs: Any,
) -> httpx.Response:
    body, headers = signed_request(payload, event, secret, **kwargs)
    return await api.post("/api/github/webhook", content=body, headers=headers)


async def drain(app: FastAPI, rounds: int = 3) -> None:
    """Run the command worker and the outbox until nothing moves (no clock: tests call this)."""
    service = app.state.github
    for _ in range(rounds):
        await service.commands.run_once()
        await service.outbox.run_due()


def count(settings: Settings, table: str) -> int:
    assert settings.sqlite_path is not None
    with sqlite3.connect(settings.sqlite_path) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


async def deliveries(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/github/deliveries", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def comment_payload(comment: Any, *, on_pull: bool = False) -> dict[str, Any]:
    """An ``issue_comment.created`` delivery for a comment of the fake GitHub (from GitHub's example)."""
    from lazyaf_testkit.github.webhooks import examples, on_pull_request

    payload = examples("issue_comment", "created")[0]
    issue = comment.issue
    payload["repository"].update(full_name=issue.repo.full_name, name=issue.repo.name)
    payload["repository"]["owner"]["login"] = issue.repo.owner.login
    payload["issue"].update(number=issue.number, title=issue.title, body=issue.body)
    payload["comment"].update(
        id=comment.id,
        body=comment.body,
        html_url=f"https://github.com/{issue.repo.full_name}/issues/{issue.number}#issuecomment-{comment.id}",
        created_at=_iso(comment.created_at),
        updated_at=_iso(comment.updated_at),
    )
    payload["comment"]["user"].update(login=comment.user.login, id=comment.user.id, type=comment.user.type)
    payload["sender"] = dict(payload["comment"]["user"])
    return on_pull_request(payload) if on_pull or issue.pull is not None else payload


def review_comment_payload(review_comment: Any) -> dict[str, Any]:
    """A ``pull_request_review_comment.created`` delivery for a review comment of the fake GitHub."""
    from lazyaf_testkit.github.webhooks import examples

    payload = examples("pull_request_review_comment", "created")[0]
    pull = review_comment.thread.pull
    payload["repository"].update(full_name=pull.repo.full_name, name=pull.repo.name)
    payload["pull_request"].update(number=pull.number, title=pull.title)
    first = review_comment.thread.comments[0]
    payload["comment"].update(
        id=review_comment.id,
        body=review_comment.body,
        in_reply_to_id=first.id if first is not review_comment else None,
        created_at=_iso(review_comment.created_at),
    )
    payload["comment"]["user"].update(
        login=review_comment.user.login, id=review_comment.user.id, type=review_comment.user.type
    )
    return payload


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
