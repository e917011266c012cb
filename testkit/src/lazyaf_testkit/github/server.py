"""Serve a ``FakeGitHub`` on 127.0.0.1 (an ephemeral port) with uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from lazyaf_testkit.github.fake import FakeGitHub


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(fake: FakeGitHub, *, port: int = 0) -> Iterator[str]:
    """Run ``fake`` until the block ends; yields its URL (also set as ``fake.url``)."""
    port = port or _free_port()
    config = uvicorn.Config(
        fake.app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        interface="asgi3",
        loop="asyncio",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-github", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake GitHub did not start")
        time.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake.url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        fake.url = None
