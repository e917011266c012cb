"""App-wide behaviour: health, OpenAPI, request ids and JSON logs, token auth off loopback."""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from lazyaf.logging import configure_logging
from lazyaf.main import create_app
from lazyaf.server import ServeError, check_can_serve
from lazyaf.settings import Settings


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert (
        body["status"] == "ok" and body["database"] == "sqlite" and body["git_backend"] in ("git", "dulwich")
    )


def test_openapi_documents_every_operation(app: FastAPI) -> None:
    spec = app.openapi()
    operations = [(p, m, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 13
    for path, method, op in operations:
        assert op.get("summary") and op.get("description"), f"{method} {path} lacks a docstring"
        assert op["operationId"].replace("_", "").isalpha(), op["operationId"]
    assert "HTTPValidationError" not in json.dumps(spec)


async def test_request_id_is_echoed_and_logged_as_json(
    client: httpx.AsyncClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.log_format = "json"
    configure_logging(settings)
    try:
        response = await client.get("/api/repos", headers={"X-Request-ID": "abc123"})
        assert response.headers["x-request-id"] == "abc123"
        generated = (await client.get("/api/health")).headers["x-request-id"]
        assert len(generated) == 32
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        requests = [e for e in lines if e.get("event") == "request"]
        assert {
            "request_id": "abc123",
            "path": "/api/repos",
            "status": 200,
            "method": "GET",
        }.items() <= requests[0].items()
        assert requests[1]["request_id"] == generated
    finally:
        logging.getLogger().handlers = []


@pytest.fixture
def remote_app(settings: Settings) -> FastAPI:
    settings.token = "s3cret-token"
    settings.allowed_hosts = ["lazyaf"]  # the name remote clients reach it by
    return create_app(settings)


async def _remote(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://lazyaf") as c:
            return await c.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_non_loopback_client_needs_the_token(remote_app: FastAPI) -> None:
    response = await _remote(remote_app, "GET", "/api/repos")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "A token is required: send 'Authorization: Bearer <LAZYAF_TOKEN>'.",
        "code": "unauthorized",
    }
    wrong = await _remote(remote_app, "GET", "/api/repos", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = await _remote(remote_app, "GET", "/api/repos", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert (await _remote(remote_app, "GET", "/api/health")).status_code == 200


async def test_git_clients_authenticate_with_basic_auth(remote_app: FastAPI) -> None:
    path = "/git/00000000-0000-0000-0000-000000000000.git/info/refs?service=git-upload-pack"
    challenge = await _remote(remote_app, "GET", path)
    assert challenge.status_code == 401 and challenge.headers["www-authenticate"] == 'Basic realm="LazyAF"'
    basic = base64.b64encode(b"lazyaf:s3cret-token").decode()
    response = await _remote(remote_app, "GET", path, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 404  # past auth: the repo does not exist


async def test_without_a_token_only_loopback_is_served(settings: Settings) -> None:
    settings.allowed_hosts = ["lazyaf"]
    response = await _remote(create_app(settings), "GET", "/api/repos")
    assert response.status_code == 401
    assert "set LAZYAF_TOKEN" in response.json()["detail"]


def test_serve_refuses_a_public_address_without_a_token(settings: Settings) -> None:
    settings.host = "0.0.0.0"
    with pytest.raises(ServeError, match="Refusing to listen on 0.0.0.0 without a token"):
        check_can_serve(settings)
    settings.token = "t"
    check_can_serve(settings)


def test_serve_reports_a_failed_migration_in_one_line(settings: Settings, tmp_path: object) -> None:
    from lazyaf.server import run

    settings.database_url = "sqlite+aiosqlite:////nonexistent-dir/lazyaf.db"
    with pytest.raises(ServeError, match=r"^Database migration failed: .*unable to open database file"):
        run(settings)
