"""The server's second address: the gateway of its Docker runners' network.

Docker runners do not share the host's network (an agent on the host's loopback would be
taken for the user). They sit on a bridge network of this server's own
(``docker.ensure_network``) and reach the server at that network's gateway, the host's
address on the bridge. So besides its usual address the server listens there too, same port
(``GatewayListener``), serving the same app: requests from a container arrive from the bridge,
not from loopback, and must carry a credential like any remote client's. The gateway host is
added to ``app.state.allowed_hosts`` (the names the server answers to) while it is served.

A server that already listens on every address (``0.0.0.0`` / ``::``) needs no second
listener. URLs the server hands a runner that point at its loopback (the model API through a
local proxy, a loopback ``public_url``) are rewritten to the address the runner dialed
(``reachable_url``): a local proxy must then listen on the gateway address too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import structlog
import uvicorn
from starlette.types import ASGIApp

from lazyaf.settings import is_loopback_host

log = structlog.get_logger(__name__)

EVERY_ADDRESS = ("0.0.0.0", "::", "")


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to the main one (it runs inside its event loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class GatewayListener:
    """Serves ``app`` on one more address, on the running event loop, until stopped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.address: tuple[str, int] | None = None
        self._server: _Listener | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (idempotent; another address replaces the current one).

        Raises:
            OSError: the address cannot be bound (taken, or not the host's).
        """
        if self.address == (host, port) and self._task is not None and not self._task.done():
            return
        await self.stop()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self.app,
            lifespan="off",  # the main server runs the app's lifespan
            log_config=None,
            loop="asyncio",
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=5,
        )
        server = _Listener(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="gateway-listener")
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():
            sock.close()
            task.result()  # raises what stopped it
            raise OSError(f"The listener on {host}:{port} stopped at once.")
        self._server, self._task, self.address = server, task, (host, port)
        log.info("gateway_listening", host=host, port=port)

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = self.address = None
        if server is None or task is None:
            return
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        log.info("gateway_stopped")


def serves_every_address(host: str) -> bool:
    """Whether a server bound to ``host`` already answers on a Docker network's gateway."""
    return host in EVERY_ADDRESS


def reachable_url(url: str, dialed: str) -> str:
    """``url`` as a runner that reached this server at ``dialed`` (a base URL) can use it: a
    loopback host is replaced by the host the runner dialed, when that is not loopback.

    >>> reachable_url("http://127.0.0.1:9000/v1", "http://172.18.0.1:8765")
    'http://172.18.0.1:9000/v1'
    """
    parts, runner_side = urlsplit(url), urlsplit(dialed)
    if not parts.hostname or not is_loopback_host(parts.hostname):
        return url
    if not runner_side.hostname or is_loopback_host(runner_side.hostname):
        return url
    host = f"[{runner_side.hostname}]" if ":" in runner_side.hostname else runner_side.hostname
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
