"""The server's second listener (for Docker runners) and the URLs handed to runners that use it."""

from __future__ import annotations

import socket

import httpx
import pytest

from lazyaf.runners.gateway import GatewayListener, reachable_url, serves_every_address
from lazyaf.settings import Settings
from lazyaf.testing import live_server


@pytest.mark.parametrize(
    ("url", "dialed", "expected"),
    [
        ("http://127.0.0.1:9000/v1", "http://172.18.0.1:8765", "http://172.18.0.1:9000/v1"),
        ("http://localhost:9000", "http://172.18.0.1:8765", "http://172.18.0.1:9000"),
        ("http://[::1]:9000/", "http://172.18.0.1:8765", "http://172.18.0.1:9000/"),
        ("https://u:p@127.0.0.1/x?y=1", "http://gw:1", "https://u:p@gw/x?y=1"),
        # Not loopback, or a runner on loopback itself: unchanged.
        ("https://api.anthropic.com", "http://172.18.0.1:8765", "https://api.anthropic.com"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:8765", "http://127.0.0.1:9000"),
    ],
)
def test_loopback_urls_are_rewritten_to_the_address_the_runner_dialed(
    url: str, dialed: str, expected: str
) -> None:
    assert reachable_url(url, dialed) == expected


def test_a_server_on_every_address_needs_no_second_listener() -> None:
    assert serves_every_address("0.0.0.0") and serves_every_address("::")
    assert not serves_every_address("127.0.0.1")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def test_the_listener_serves_the_same_app_until_stopped(settings: Settings) -> None:
    # 127.0.0.2 stands in for a gateway: another address of this host.
    with live_server(settings, migrate=False) as server:
        listener = GatewayListener(server.app)
        port = _free_port("127.0.0.2")
        await listener.start("127.0.0.2", port)
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.2:{port}/api/health")
            assert response.status_code == 200 and response.json()["status"] == "ok"
            await listener.start("127.0.0.2", port)  # again: nothing changes
            assert listener.address == ("127.0.0.2", port)
        finally:
            await listener.stop()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as client:
                await client.get(f"http://127.0.0.2:{port}/api/health")


async def test_a_taken_address_is_an_error_and_nothing_listens(settings: Settings) -> None:
    with live_server(settings, migrate=False) as server:
        host, port = server.url.removeprefix("http://").split(":")
        listener = GatewayListener(server.app)
        with pytest.raises(OSError):
            await listener.start(host, int(port))
        assert listener.address is None
