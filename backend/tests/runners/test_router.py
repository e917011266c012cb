"""/api/runners: listing, scale input checks, the hand-run docker command."""

from __future__ import annotations

import httpx


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


async def test_docker_command_has_placeholders_not_secrets(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/runners/docker-command")).json()
    command = body["command"]
    assert command.startswith("docker run -d --restart unless-stopped -e ")
    assert "--network" not in command  # never the host's; no runner network exists yet
    assert "-e LAZYAF_TOKEN=<your-lazyaf-token>" in command and "ANTHROPIC_API_KEY=<your-anthropic-api-key>" in command
    assert "lazyaf-runner:latest --server http://localhost " in command
    assert "runner/Dockerfile" in body["notes"]
