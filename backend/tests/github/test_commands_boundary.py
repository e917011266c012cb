"""The webhook through the boundary, attacked: off loopback and without LazyAF's token, GitHub reaches
`POST /api/github/webhook` (its signature is its credential) and nothing else becomes reachable."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_testkit.github.webhooks import examples, signed_request

from lazyaf.settings import Settings
from tests.github.commands_support import SECRET, count, link_for_commands
from tests.github.conftest import Setup

REMOTE = ("203.0.113.9", 50000)  # a client that is not on this machine


@pytest.fixture
async def outside(
    app: FastAPI, api: httpx.AsyncClient, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A client off loopback, without the token (the server has one: it serves others)."""
    settings.token = "server-token"  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=app, client=REMOTE)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


def _delivery(repository: str = "octo-org/hello-world") -> tuple[bytes, dict[str, str]]:
    payload = examples("issue_comment", "created")[0]
    payload["repository"]["full_name"] = repository
    payload["comment"]["body"] = "@lazyaf status"
    return signed_request(payload, "issue_comment", SECRET)


async def test_github_reaches_the_webhook_off_loopback_without_the_token(
    api: httpx.AsyncClient, outside: httpx.AsyncClient, setup: Setup, settings: Settings
) -> None:
    await link_for_commands(api, setup)
    body, headers = _delivery()
    response = await outside.post("/api/github/webhook", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert count(settings, "github_delivery") == 1
    # Unsigned, it is refused by the route itself (401), and nothing is stored.
    del headers["X-Hub-Signature-256"]
    headers["X-GitHub-Delivery"] = "another"
    refused = await outside.post("/api/github/webhook", content=body, headers=headers)
    assert refused.status_code == 401 and "X-Hub-Signature-256" in refused.json()["detail"]
    assert count(settings, "github_delivery") == 1


def _every_route(app: FastAPI) -> list[tuple[str, str]]:
    routes = []
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            routes.append((method.upper(), path))
    assert len(routes) > 40
    return routes


async def test_no_other_path_opens_off_loopback(
    app: FastAPI, api: httpx.AsyncClient, outside: httpx.AsyncClient, setup: Setup, settings: Settings
) -> None:
    await link_for_commands(api, setup)
    body, headers = _delivery()
    opened = []
    for method, template in _every_route(app):
        path = template.replace("{", "").replace("}", "")  # any value: auth answers before routing
        if (method, template) == ("GET", "/api/health"):
            continue
        response = await outside.request(method, path, content=body, headers=headers)
        if response.status_code != 401:
            opened.append((method, template, response.status_code))
    assert opened == [("POST", "/api/github/webhook", 202)]
    # Near misses of the one open path stay closed: other methods, a trailing slash, other spellings.
    for method, path in (
        ("GET", "/api/github/webhook"),
        ("PUT", "/api/github/webhook"),
        ("DELETE", "/api/github/webhook"),
        ("POST", "/api/github/webhook/"),
        ("POST", "/api/github/webhook/x"),
        ("POST", "/api/github/Webhook"),
        ("POST", "/api/github/webhooks"),
        ("POST", "/api/github/deliveries"),
        ("POST", "/api/github/commands"),
        ("GET", "/api/github/deliveries"),
    ):
        response = await outside.request(method, path, content=body, headers=headers)
        assert response.status_code == 401, (method, path, response.status_code, response.text)
    assert count(settings, "github_delivery") == 1
    assert count(settings, "github_command") == 0


async def test_a_credential_on_the_webhook_gives_it_nothing_more(
    api: httpx.AsyncClient, outside: httpx.AsyncClient, app: FastAPI, setup: Setup
) -> None:
    """The webhook's principal is GitHub's, whatever is presented: a runner's secret there opens nothing."""
    await link_for_commands(api, setup)
    secret = app.state.credentials.runner_secret(__import__("uuid").uuid4())
    body, headers = _delivery()
    response = await outside.post(
        "/api/github/webhook", content=body, headers={**headers, "Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 202
    listed = await outside.get("/api/github/deliveries", headers={"Authorization": f"Bearer {secret}"})
    assert listed.status_code == 403


async def test_a_web_page_cannot_post_to_the_webhook(
    api: httpx.AsyncClient, app: FastAPI, setup: Setup, settings: Settings
) -> None:
    """GitHub sends no Origin; a browser does, and the boundary refuses it before the signature is read."""
    await link_for_commands(api, setup)
    body, headers = _delivery()
    response = await api.post(
        "/api/github/webhook", content=body, headers={**headers, "Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and response.json()["code"] == "cross_origin"
    assert count(settings, "github_delivery") == 0
