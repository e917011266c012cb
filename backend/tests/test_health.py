"""GET /api/health names the server's public URL: what the board puts in a runner's --server."""

from __future__ import annotations

import httpx

from lazyaf.main import create_app
from lazyaf.settings import Settings


async def test_health_gives_the_address_the_client_used(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/health")).json()["public_url"] == "http://localhost"


async def test_health_gives_the_configured_public_url_over_the_request_address(settings: Settings) -> None:
    settings.public_url = "https://lazyaf.example.com/"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as local:
            body = (await local.get("/api/health")).json()
    assert body["public_url"] == "https://lazyaf.example.com"
