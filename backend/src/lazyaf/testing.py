"""Test support shared by the backend, CLI and bench: a real server on an ephemeral loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from lazyaf.db.migrate import upgrade
from lazyaf.main import create_app
from lazyaf.settings import Settings


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    settings: Settings

    def api(self, path: str) -> str:
        return f"{self.url}/api{path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(settings: Settings, *, migrate: bool = True) -> Iterator[LiveServer]:
    """Serve ``create_app(settings)`` with uvicorn in a thread on 127.0.0.1 until the block ends."""
    if migrate:
        upgrade(settings.sqlalchemy_url)
    port = free_port()
    settings.port = port  # the pool tells runners to dial this
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(url=url, app=app, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        app.state.pool.terminate_children()


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    """Poll ``predicate()`` until true (for tests only; not a timing assertion)."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def health(url: str) -> dict[str, object]:
    data: dict[str, object] = httpx.get(f"{url}/api/health", timeout=5).json()
    return data
