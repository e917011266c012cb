"""/api/runners: listing, scale input checks, the hand-run docker command."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI


async def test_empty_pool(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/runners")).json()
    assert body["runners"] == [] and body["local"] == 0 and body["docker"] == 0
    assert isinstance(body["docker_available"], bool)


async def test_scale_input_is_checked_and_nothing_starts(client: httpx.AsyncClient) -> None:
    for payload, fragment in [
        ({"kind": "local", "count": 33}, "count: Input should be less than or equal to 32"),
        ({"kind": "k8s", "count": 1}, "kind: Input should be 'local' or 'docker'"),
        ({"kind": "local", "count": -1}, "count: Input should be greater than or equal to 0"),
    ]:
        response = await client.post("/api/runners/scale", json=payload)
        assert response.status_code == 422 and fragment in response.json()["detail"]
    assert (await client.get("/api/runners")).json()["runners"] == []


async def test_docker_command_passes_the_registration_token_by_environment(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    app.state.settings.token = "user-token-not-for-runners"
    body = (await client.get("/api/runners/docker-command")).json()
    command, token = body["command"], body["registration_token"]
    assert token == app.state.credentials.registration_token and token.startswith("lazyaf-reg.")
    # Set for the shell, handed to the container by name: never in docker's own argv.
    assert command.startswith(f"LAZYAF_RUNNER_TOKEN={token} docker run -d --restart unless-stopped ")
    assert "--network host" not in command  # never the host's network
    assert " -e LAZYAF_RUNNER_TOKEN " in command and command.count(token) == 1
    # The model credential comes with each job over the runner channel: never a container variable.
    assert "ANTHROPIC" not in command and "-e ANTHROPIC_API_KEY" in body["notes"]
    assert "lazyaf-runner:latest --server http://" in command
    assert "user-token-not-for-runners" not in str(body) and "LAZYAF_TOKEN" not in command
    assert "runner/Dockerfile" in body["notes"]


async def test_the_registration_token_is_the_users_alone(client: httpx.AsyncClient, app: FastAPI) -> None:
    token = app.state.credentials.registration_token
    assert (await client.get("/api/runners/registration-token")).json() == {"registration_token": token}
    # A runner (its own secret) or a registering runner may not read it; nor may a stranger.
    runner_secret = app.state.credentials.runner_secret(uuid.uuid4())
    for credential in (runner_secret, token):
        refused = await client.get(
            "/api/runners/registration-token", headers={"Authorization": f"Bearer {credential}"}
        )
        assert refused.status_code in (401, 403) and token not in refused.text
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as stranger:
        refused = await stranger.get("/api/runners/registration-token")
    assert refused.status_code == 401 and token not in refused.text
